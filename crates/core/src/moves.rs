//! Historical earnings moves and their robust statistics (spec §3).
//!
//! For each past report the reference close is the close of the last session before the
//! reaction, and the reaction session is the report day (BMO) or the next trading day (AMC;
//! UNKNOWN is treated as AMC). The default metric is the absolute close-to-close move, which is
//! what a straddle prices; direction is kept apart (averaging signed moves cancels up and down
//! moves and manufactures huge VRP ratios from noise).

use crate::calendar::{next_trading_day, previous_trading_day, this_or_next_trading_day};
use crate::stats::{MAD_NORMAL_SCALE, ewma, mad, mean, median, rms, std_dev};
use crate::types::{Bar, EarningsEvent, Pct, Timing};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The market's reaction to one report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoricalMove {
    /// Announcement date.
    pub report_date: NaiveDate,
    /// BMO / AMC / UNKNOWN.
    pub timing: Timing,
    /// The session that reacted.
    pub reaction_date: NaiveDate,
    /// Close of the session before the reaction.
    pub reference_close: f64,
    /// |reaction close / reference close − 1| × 100.
    pub close_move_pct: Pct,
    /// |reaction open / reference close − 1| × 100.
    pub gap_move_pct: Pct,
    /// (reaction high − reaction low) / reference close × 100.
    pub intraday_move_pct: Pct,
    /// (reaction close / reference close − 1) × 100, signed.
    pub signed_close_pct: Pct,
}

/// Why a report produced no move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoveError {
    /// No bar for the reaction session.
    #[error("no bar for the reaction session {0}")]
    MissingReactionBar(NaiveDate),
    /// No bar for the session before the reaction.
    #[error("no bar for the reference session {0}")]
    MissingReferenceBar(NaiveDate),
    /// A bar has a non-positive or non-finite price.
    #[error("bad prices in the bar of {0}")]
    BadBar(NaiveDate),
}

/// The session that reacts to a report.
///
/// # Example
/// ```
/// use ivcrush_core::moves::reaction_date;
/// use ivcrush_core::{EarningsEvent, Timing};
/// let thursday = "2026-01-29".parse().unwrap();
/// let amc = EarningsEvent { date: thursday, timing: Timing::Amc };
/// assert_eq!(reaction_date(&amc).to_string(), "2026-01-30");
/// assert_eq!(reaction_date(&EarningsEvent { timing: Timing::Bmo, ..amc }), thursday);
/// // Unknown timing is treated as after the close.
/// assert_eq!(reaction_date(&EarningsEvent { timing: Timing::Unknown, ..amc }), reaction_date(&amc));
/// ```
pub fn reaction_date(event: &EarningsEvent) -> NaiveDate {
    match event.timing {
        Timing::Bmo => this_or_next_trading_day(event.date),
        Timing::Amc | Timing::Unknown => next_trading_day(event.date),
    }
}

/// Whether the market has started reacting to `event` at instant `now`: the reaction session's
/// open (09:30 New York) has passed.
pub fn reaction_started(event: &EarningsEvent, now: chrono::DateTime<chrono::Utc>) -> bool {
    let reaction = reaction_date(event);
    let open = reaction
        .and_hms_opt(9, 30, 0)
        .expect("09:30 is a valid time");
    let open_utc = crate::calendar::expiry_instant(reaction)
        - (reaction.and_hms_opt(16, 0, 0).expect("valid") - open);
    now >= open_utc
}

fn bar_ok(b: &Bar) -> bool {
    [b.open, b.high, b.low, b.close]
        .iter()
        .all(|v| v.is_finite() && *v > 0.0)
}

/// The move for one report, from bars sorted by date (oldest first).
///
/// # Errors
/// [`MoveError`] when a needed bar is missing or corrupt.
///
/// # Example
/// ```
/// use ivcrush_core::moves::{MoveError, historical_move};
/// use ivcrush_core::{Bar, EarningsEvent, Timing};
/// let bar = |date: &str, open, high, low, close| Bar {
///     date: date.parse().unwrap(), open, high, low, close, volume: 0,
/// };
/// let bars = [
///     bar("2026-01-29", 100.0, 101.0, 99.0, 100.0),
///     bar("2026-01-30", 96.0, 97.0, 93.0, 95.0),
/// ];
/// let amc = EarningsEvent { date: "2026-01-29".parse().unwrap(), timing: Timing::Amc };
/// let m = historical_move(&bars, &amc).unwrap();
/// assert!((m.signed_close_pct.value() + 5.0).abs() < 1e-12);
/// assert!((m.close_move_pct.value() - 5.0).abs() < 1e-12);
/// assert!((m.gap_move_pct.value() - 4.0).abs() < 1e-12);
/// assert!((m.intraday_move_pct.value() - 4.0).abs() < 1e-12);
/// // A missing session is reported, never guessed.
/// assert!(matches!(historical_move(&bars[1..], &amc), Err(MoveError::MissingReferenceBar(_))));
/// ```
pub fn historical_move(bars: &[Bar], event: &EarningsEvent) -> Result<HistoricalMove, MoveError> {
    let reaction = reaction_date(event);
    let reference = previous_trading_day(reaction);
    let find = |d: NaiveDate| bars.binary_search_by(|b| b.date.cmp(&d)).ok();
    let ri = find(reaction).ok_or(MoveError::MissingReactionBar(reaction))?;
    let pi = find(reference).ok_or(MoveError::MissingReferenceBar(reference))?;
    let (r, p) = (&bars[ri], &bars[pi]);
    if !bar_ok(r) {
        return Err(MoveError::BadBar(r.date));
    }
    if !bar_ok(p) {
        return Err(MoveError::BadBar(p.date));
    }
    let c0 = p.close;
    let signed = (r.close / c0 - 1.0) * 100.0;
    // Finite positive prices can still overflow a ratio (1e300 / 1e-300): a bad bar too.
    let pct = |x: f64| Pct::new(x).map_err(|_| MoveError::BadBar(r.date));
    Ok(HistoricalMove {
        report_date: event.date,
        timing: event.timing,
        reaction_date: reaction,
        reference_close: c0,
        close_move_pct: pct(signed.abs())?,
        gap_move_pct: pct(((r.open / c0 - 1.0) * 100.0).abs())?,
        intraday_move_pct: pct((r.high - r.low) / c0 * 100.0)?,
        signed_close_pct: pct(signed)?,
    })
}

/// Moves for every report that the bars cover, oldest first, and the reports skipped with why.
pub fn historical_moves(
    bars: &[Bar],
    events: &[EarningsEvent],
) -> (Vec<HistoricalMove>, Vec<(NaiveDate, MoveError)>) {
    let mut ok = Vec::with_capacity(events.len());
    let mut skipped = Vec::new();
    let mut evs: Vec<&EarningsEvent> = events.iter().collect();
    evs.sort_by_key(|e| e.date);
    evs.dedup_by_key(|e| e.date);
    for e in evs {
        match historical_move(bars, e) {
            Ok(m) => ok.push(m),
            Err(err) => skipped.push((e.date, err)),
        }
    }
    (ok, skipped)
}

/// Which per-report move the statistics summarise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MoveMetric {
    /// Close-to-close (default; comparable with a straddle).
    #[default]
    Close,
    /// Overnight gap only.
    Gap,
    /// Reaction-day high–low range.
    Intraday,
}

impl MoveMetric {
    /// The absolute move of `m` in this metric, in percent.
    pub fn of(self, m: &HistoricalMove) -> f64 {
        match self {
            MoveMetric::Close => m.close_move_pct.0,
            MoveMetric::Gap => m.gap_move_pct.0,
            MoveMetric::Intraday => m.intraday_move_pct.0,
        }
    }
}

/// Robust statistics of the last reports' absolute moves (percent units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MoveStats {
    /// Reports used.
    pub count: usize,
    /// Mean absolute move.
    pub mean_pct: f64,
    /// Median absolute move.
    pub median_pct: f64,
    /// MAD of the absolute moves about their median, × 1.4826.
    pub mad_pct: f64,
    /// Exponentially weighted mean absolute move (half-life in reports).
    pub ewma_pct: f64,
    /// Largest absolute move.
    pub max_pct: f64,
    /// Sample standard deviation of the signed moves (ddof 1).
    pub std_pct: f64,
    /// Root mean square of the signed moves about zero (the σ a straddle prices).
    pub rms_pct: f64,
    /// Share of up moves (0–1).
    pub up_share: f64,
    /// Confidence interval of the mean absolute move at `vrp.confidence_level`
    /// ([`crate::uncertainty::mean_interval`]); set by the analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_ci: Option<crate::uncertainty::MeanInterval>,
}

/// Too few reports for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not enough earnings history: {have} reports, need at least {need}")]
pub struct NoData {
    /// Reports available.
    pub have: usize,
    /// Reports required.
    pub need: usize,
}

impl MoveStats {
    /// Statistics over the last `lookback` signed moves (percent, oldest first).
    ///
    /// # Errors
    /// [`NoData`] with fewer than `min_count` moves.
    ///
    /// # Example
    /// ```
    /// use ivcrush_core::moves::{MoveStats, NoData};
    /// let signed = [4.0, -6.0, 2.0, -8.0];
    /// let s = MoveStats::from_signed(&signed, 12, 4, 4.0).unwrap();
    /// assert_eq!(s.count, 4);
    /// assert_eq!(s.mean_pct, 5.0); // of the absolute moves
    /// assert_eq!(s.median_pct, 5.0);
    /// assert_eq!(s.max_pct, 8.0);
    /// assert_eq!(s.up_share, 0.5);
    /// // Only the last `lookback` moves count.
    /// assert_eq!(MoveStats::from_signed(&signed, 2, 2, 4.0).unwrap().mean_pct, 5.0);
    /// assert_eq!(MoveStats::from_signed(&signed[..3], 12, 4, 4.0), Err(NoData { have: 3, need: 4 }));
    /// ```
    pub fn from_signed(
        signed_oldest_first: &[f64],
        lookback: usize,
        min_count: usize,
        half_life: f64,
    ) -> Result<MoveStats, NoData> {
        let start = signed_oldest_first.len().saturating_sub(lookback);
        let s = &signed_oldest_first[start..];
        let need = min_count.max(2);
        if s.len() < need {
            return Err(NoData {
                have: s.len(),
                need,
            });
        }
        let abs: Vec<f64> = s.iter().map(|v| v.abs()).collect();
        let nd = || NoData {
            have: s.len(),
            need,
        };
        Ok(MoveStats {
            count: s.len(),
            mean_pct: mean(&abs).ok_or_else(nd)?,
            median_pct: median(&abs).ok_or_else(nd)?,
            mad_pct: mad(&abs).ok_or_else(nd)? * MAD_NORMAL_SCALE,
            ewma_pct: ewma(&abs, half_life).ok_or_else(nd)?,
            max_pct: abs.iter().copied().fold(0.0, f64::max),
            std_pct: std_dev(s).ok_or_else(nd)?,
            rms_pct: rms(s).ok_or_else(nd)?,
            up_share: s.iter().filter(|v| **v > 0.0).count() as f64 / s.len() as f64,
            mean_ci: None,
        })
    }

    /// Statistics over historical moves in the chosen metric (sign from the close move).
    ///
    /// # Errors
    /// [`NoData`] with fewer than `min_count` moves.
    pub fn from_moves(
        moves_oldest_first: &[HistoricalMove],
        metric: MoveMetric,
        lookback: usize,
        min_count: usize,
        half_life: f64,
    ) -> Result<MoveStats, NoData> {
        let signed: Vec<f64> = moves_oldest_first
            .iter()
            .map(|m| metric.of(m).copysign(m.signed_close_pct.0))
            .collect();
        MoveStats::from_signed(&signed, lookback, min_count, half_life)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn bar(date: &str, o: f64, h: f64, l: f64, c: f64) -> Bar {
        Bar {
            date: d(date),
            open: o,
            high: h,
            low: l,
            close: c,
            volume: 0,
        }
    }

    #[test]
    fn amc_report_reacts_the_next_session_and_bmo_the_same_day() {
        let bars = [
            bar("2026-01-28", 100.0, 101.0, 99.0, 100.0),
            bar("2026-01-29", 100.0, 101.0, 99.0, 100.0),
            bar("2026-01-30", 96.0, 97.0, 93.0, 95.0),
        ];
        let amc = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        };
        let m = historical_move(&bars, &amc).expect("covered");
        assert_eq!(m.reaction_date, d("2026-01-30"));
        assert!((m.close_move_pct.0 - 5.0).abs() < 1e-12);
        assert!((m.gap_move_pct.0 - 4.0).abs() < 1e-12);
        assert!((m.intraday_move_pct.0 - 4.0).abs() < 1e-12);
        assert!(m.signed_close_pct.0 < 0.0);
        let bmo = EarningsEvent {
            date: d("2026-01-30"),
            timing: Timing::Bmo,
        };
        assert_eq!(
            historical_move(&bars, &bmo).expect("covered").reaction_date,
            d("2026-01-30")
        );
    }

    #[test]
    fn a_move_that_overflows_is_a_bad_bar_not_an_infinite_percentage() {
        let bars = [
            bar("2026-01-29", 1e-300, 1e-300, 1e-300, 1e-300),
            bar("2026-01-30", 1e300, 1e300, 1e300, 1e300),
        ];
        let amc = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        };
        assert_eq!(
            historical_move(&bars, &amc),
            Err(MoveError::BadBar(d("2026-01-30")))
        );
    }

    #[test]
    fn missing_bars_are_reported_not_guessed() {
        let bars = [bar("2026-01-30", 96.0, 97.0, 93.0, 95.0)];
        let amc = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        };
        assert_eq!(
            historical_move(&bars, &amc),
            Err(MoveError::MissingReferenceBar(d("2026-01-29")))
        );
    }

    #[test]
    fn fewer_than_the_minimum_reports_is_no_data() {
        assert_eq!(
            MoveStats::from_signed(&[1.0, -2.0, 3.0], 12, 4, 4.0),
            Err(NoData { have: 3, need: 4 })
        );
    }
}
