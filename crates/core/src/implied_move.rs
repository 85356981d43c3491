//! The implied earnings move (spec §2): event-expiry selection, the ATM straddle, the
//! strike-interpolated straddle, and the event move extracted from the term structure.
//!
//! The event move is a least-squares fit of each expiry's total variance `w = σ²·T` as
//! `σ_d²·τ + E` in trading-day time: every post-event expiry in the window (not just two: each
//! additional one averages quote rounding away), and a pre-event expiry, which carries `σ_d²·τ`
//! alone, when one is listed. The same fit gives the ex-event vol of every expiry and the
//! forward vol after the event expiry ([`EventMove::ex_event_iv`], [`EventMove::forward_vol`]).

use crate::calendar::{CalendarYears, TradingYears};
use crate::config::TermConfig;
use crate::moves::reaction_date;
use crate::stats::lerp;
use crate::types::{EarningsEvent, NonFiniteError, OptionChain, OptionKind, Pct};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// `√(2/π)`: the expected absolute value of a standard normal.
pub const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// The first listed expiration that trades after the market reacts: on or after the reaction
/// session (the report day for BMO, the next trading day for AMC and UNKNOWN).
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use ivcrush_core::implied_move::event_expiry;
/// use ivcrush_core::{EarningsEvent, Timing};
/// let d = |s: &str| s.parse::<NaiveDate>().unwrap();
/// let listed = [d("2026-01-30"), d("2026-02-06"), d("2026-01-29")];
/// // After Thursday's close the market reacts on Friday: the Friday expiry carries the event.
/// let amc = EarningsEvent { date: d("2026-01-29"), timing: Timing::Amc };
/// assert_eq!(event_expiry(&listed, &amc), Some(d("2026-01-30")));
/// // Before Thursday's open the Thursday expiry already does.
/// let bmo = EarningsEvent { timing: Timing::Bmo, ..amc };
/// assert_eq!(event_expiry(&listed, &bmo), Some(d("2026-01-29")));
/// assert_eq!(event_expiry(&[d("2026-01-23")], &amc), None);
/// ```
pub fn event_expiry(expirations: &[NaiveDate], event: &EarningsEvent) -> Option<NaiveDate> {
    let reaction = reaction_date(event);
    expirations.iter().copied().filter(|e| *e >= reaction).min()
}

/// The expirations the term-structure fit uses, out of the listed (or fetched) ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FitExpiries {
    /// Post-event expiries: the event expiry and every one up to `term.window_days` calendar
    /// days after it (at least two from the event expiry on when listed), ascending.
    pub post: Vec<NaiveDate>,
    /// The last expiry before the reaction session with at least `term.min_pre_event_sessions`
    /// of trading-day time left, when `term.pre_event` is on.
    pub pre: Option<NaiveDate>,
}

/// Which expirations enter the event-variance fit (the rule [`crate::analyze`] applies to the
/// chains it is given). Expirations already expired at `as_of` are ignored.
pub fn fit_expiries(
    listed: &[NaiveDate],
    event: &EarningsEvent,
    as_of: DateTime<Utc>,
    cfg: &TermConfig,
) -> FitExpiries {
    let mut live: Vec<NaiveDate> = listed
        .iter()
        .copied()
        .filter(|e| CalendarYears::to_expiry(as_of, *e).years() > 0.0)
        .collect();
    live.sort_unstable();
    live.dedup();
    let reaction = reaction_date(event);
    let Some(event_exp) = event_expiry(&live, event) else {
        return FitExpiries::default();
    };
    let window_end = event_exp + Duration::days(i64::from(cfg.window_days));
    let post = live
        .iter()
        .copied()
        .filter(|e| *e >= event_exp)
        .enumerate()
        .filter(|(i, e)| *e <= window_end || *i < 2)
        .map(|(_, e)| e)
        .collect();
    let pre = live
        .iter()
        .copied()
        .rfind(|e| {
            *e < reaction
                && TradingYears::to_expiry(as_of, *e).sessions() >= cfg.min_pre_event_sessions
        })
        .filter(|_| cfg.pre_event);
    FitExpiries { post, pre }
}

/// The chains an analysis wants fetched, ascending: the fit's expirations ([`fit_expiries`])
/// and the analysed expiry when one is forced. With the default window that is the pre-event
/// expiry, the event expiry and the expiries up to five weeks after it.
///
/// # Example
/// ```
/// use chrono::{DateTime, NaiveDate, Utc};
/// use ivcrush_core::config::TermConfig;
/// use ivcrush_core::implied_move::{expirations_to_fetch, fit_expiries};
/// use ivcrush_core::{EarningsEvent, Timing};
/// let d = |s: &str| s.parse::<NaiveDate>().unwrap();
/// let as_of: DateTime<Utc> = "2026-01-28T20:00:00Z".parse().unwrap();
/// let listed: Vec<NaiveDate> = ["2026-01-30", "2026-02-06", "2026-02-13", "2026-03-20", "2026-06-18"]
///     .iter()
///     .map(|s| d(s))
///     .collect();
/// // Reported Monday before the open: Friday 2026-01-30 expires before the reaction.
/// let event = EarningsEvent { date: d("2026-02-02"), timing: Timing::Bmo };
/// let cfg = TermConfig::default(); // post-event expiries up to 35 days after the event expiry
/// let fit = fit_expiries(&listed, &event, as_of, &cfg);
/// assert_eq!(fit.pre, Some(d("2026-01-30")));
/// assert_eq!(fit.post, [d("2026-02-06"), d("2026-02-13")]);
/// // A forced expiry outside the window is fetched too.
/// let fetch = expirations_to_fetch(&listed, &event, Some(d("2026-06-18")), as_of, &cfg);
/// assert_eq!(fetch, [d("2026-01-30"), d("2026-02-06"), d("2026-02-13"), d("2026-06-18")]);
/// ```
pub fn expirations_to_fetch(
    listed: &[NaiveDate],
    event: &EarningsEvent,
    expiration: Option<NaiveDate>,
    as_of: DateTime<Utc>,
    cfg: &TermConfig,
) -> Vec<NaiveDate> {
    let fit = fit_expiries(listed, event, as_of, cfg);
    let mut out: Vec<NaiveDate> = fit
        .pre
        .into_iter()
        .chain(fit.post)
        .chain(expiration)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Why an implied move could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImpliedMoveError {
    /// No strike has a valid two-sided call and put quote.
    #[error("no strike with valid call and put quotes")]
    NoStraddle,
    /// Spot is not a finite positive number.
    #[error("spot must be a finite number > 0")]
    BadSpot,
    /// The term structure needs two expiries with distinct times and finite vols.
    #[error("need at least two post-event expiries with distinct times and finite ATM vols")]
    TooFewExpiries,
    /// The quotes give a move that is not a finite number (an overflow of extreme prices).
    #[error("{0}")]
    NonFinite(#[from] NonFiniteError),
}

/// The straddle-based implied move of one expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StraddleMove {
    /// Strike nearest the forward with a valid straddle.
    pub atm_strike: f64,
    /// Call mid + put mid at `atm_strike`.
    pub straddle_mid: f64,
    /// `straddle_mid / spot × 100`: the expected absolute move.
    pub straddle_pct: Pct,
    /// Straddle value interpolated linearly between the strikes bracketing the forward,
    /// / spot × 100 (equals `straddle_pct` when the forward sits on a strike or is not bracketed).
    pub interpolated_pct: Pct,
}

/// `(strike, call mid + put mid)` at every strike whose call and put are both validly quoted,
/// sorted by strike. As [`OptionChain::quote`] does, the first quote of a kind at a strike is
/// the one that counts. One sort and a merge instead of a search per strike: a chain has a
/// hundred quotes and the analysis is on a budget.
fn straddles(chain: &OptionChain) -> Vec<(f64, f64)> {
    let side = |kind: OptionKind| {
        let mut v: Vec<&crate::types::OptionQuote> = chain
            .quotes
            .iter()
            .filter(|q| q.kind == kind && q.strike.is_finite())
            .collect();
        // Stable: the first quote of a strike stays first and survives the dedup.
        v.sort_by(|a, b| a.strike.total_cmp(&b.strike));
        v.dedup_by(|a, b| a.strike == b.strike);
        v.retain(|q| q.is_valid());
        v
    };
    let (calls, puts) = (side(OptionKind::Call), side(OptionKind::Put));
    let mut out = Vec::with_capacity(calls.len().min(puts.len()));
    let (mut i, mut j) = (0, 0);
    while let (Some(c), Some(p)) = (calls.get(i), puts.get(j)) {
        match c.strike.total_cmp(&p.strike) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((c.strike, c.mid() + p.mid()));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Straddle and interpolated implied move for `chain` given spot and forward.
///
/// # Errors
/// [`ImpliedMoveError::NoStraddle`] when no strike has valid quotes on both sides.
///
/// # Example
/// ```
/// use ivcrush_core::implied_move::straddle_move;
/// use ivcrush_core::{OptionChain, OptionKind, OptionQuote};
/// let q = |kind, strike, bid, ask| OptionQuote {
///     kind, strike, bid, ask, last: None, volume: 100, open_interest: 1_000,
/// };
/// let chain = OptionChain::new(
///     "2026-01-30".parse().unwrap(),
///     vec![
///         q(OptionKind::Call, 100.0, 2.9, 3.1),
///         q(OptionKind::Put, 100.0, 2.9, 3.1),
///         q(OptionKind::Call, 105.0, 0.9, 1.1),
///         q(OptionKind::Put, 105.0, 5.9, 6.1),
///     ],
/// );
/// let m = straddle_move(&chain, 100.0, 101.0).unwrap();
/// assert_eq!(m.atm_strike, 100.0);
/// assert!((m.straddle_mid - 6.0).abs() < 1e-12);
/// assert!((m.straddle_pct.value() - 6.0).abs() < 1e-12);
/// // Interpolated to the forward (101) between the 100 (6.00) and 105 (7.00) straddles.
/// assert!((m.interpolated_pct.value() - 6.2).abs() < 1e-12);
/// ```
pub fn straddle_move(
    chain: &OptionChain,
    spot: f64,
    forward: f64,
) -> Result<StraddleMove, ImpliedMoveError> {
    if !(spot.is_finite() && spot > 0.0) {
        return Err(ImpliedMoveError::BadSpot);
    }
    let straddles = straddles(chain);
    let &(atm_strike, straddle_mid) = straddles
        .iter()
        .min_by(|a, b| (a.0 - forward).abs().total_cmp(&(b.0 - forward).abs()))
        .ok_or(ImpliedMoveError::NoStraddle)?;
    let lo = straddles.iter().rev().find(|(k, _)| *k <= forward);
    let hi = straddles.iter().find(|(k, _)| *k >= forward);
    let interpolated = match (lo, hi) {
        (Some(&(k0, v0)), Some(&(k1, v1))) => lerp(k0, v0, k1, v1, forward),
        _ => straddle_mid,
    };
    Ok(StraddleMove {
        atm_strike,
        straddle_mid,
        straddle_pct: Pct::new(straddle_mid / spot * 100.0)?,
        interpolated_pct: Pct::new(interpolated / spot * 100.0)?,
    })
}

/// One expiry's ATM vol with both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermPoint {
    /// Calendar years to expiry (the clock the vol is quoted in).
    pub t_calendar: f64,
    /// Trading-day years to expiry ([`crate::calendar::trading_years_at`]: the time left of the
    /// as-of session plus the sessions after it through expiry, / 252).
    pub tau_trading: f64,
    /// ATM implied vol (calendar time).
    pub atm_iv: f64,
}

/// Which clock and fit produced the event variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMoveMethod {
    /// Two expiries, trading-day time (Dubinsky–Johannes; exact).
    TradingDaysTwoExpiries,
    /// Three or more expiries, least squares `w = σ_d²·τ + E` in trading-day time (a
    /// pre-event expiry enters without the `E`).
    TradingDaysLeastSquares,
}

/// The event move extracted from the term structure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventMove {
    /// Event variance `E` (log-return variance of the event, trading-day fit), ≥ 0.
    pub event_variance: f64,
    /// `100·√(2/π)·√E`: the expected absolute event move.
    pub event_pct: Pct,
    /// The same with calendar time (shown beside it; biased by weekends).
    pub calendar_pct: Pct,
    /// Annualised ex-event (diffusion) vol in trading-day time, `√slope`.
    pub diffusion_vol: f64,
    /// Clock and fit used.
    pub method: EventMoveMethod,
    /// The fit gave `E < 0`, reported as 0 (front not priced for an event).
    pub negative_variance_clamped: bool,
    /// Diffusion variance rate `σ_d²` (trading-day time) as fitted, before clamping at 0.
    #[serde(default)]
    pub diffusion_variance: f64,
    /// Expiries in the fit (post-event and pre-event).
    #[serde(default)]
    pub expiries: usize,
    /// A pre-event expiry (no event inside) anchored the diffusion.
    #[serde(default)]
    pub pre_event: bool,
}

impl EventMove {
    /// The ex-event ATM implied vol (quoted in calendar time, like the chain's) of an expiry at
    /// trading-day time `tau` and calendar time `t`: `σ_d·√(τ/T)`, the fit's diffusion over
    /// that expiry. Taken from the fit rather than as `√((σ²T − E)/T)` of its own quote: near
    /// the event that is the difference of two almost equal variances, mostly quote noise.
    /// `None` for a non-positive time or no diffusion in the fit.
    pub fn ex_event_iv(&self, tau: f64, t: f64) -> Option<f64> {
        (tau > 0.0 && t > 0.0 && self.diffusion_vol > 0.0)
            .then(|| self.diffusion_vol * (tau / t).sqrt())
            .filter(|v| v.is_finite())
    }

    /// The forward vol between two expiries (calendar-time quoting), from the fit's diffusion:
    /// `σ_d·√((τ₂ − τ₁)/(T₂ − T₁))`. Both expiries carry the event once, so it cancels.
    pub fn forward_vol(&self, (tau1, t1): (f64, f64), (tau2, t2): (f64, f64)) -> Option<f64> {
        (t2 > t1 && tau2 >= tau1 && self.diffusion_vol > 0.0)
            .then(|| self.diffusion_vol * ((tau2 - tau1) / (t2 - t1)).sqrt())
            .filter(|v| v.is_finite())
    }
}

/// Least-squares line `w = a·x + b` → `(a, b)`; `None` when the xs do not vary.
fn fit_line(xs: &[f64], ws: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let mw = ws.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxw: f64 = xs.iter().zip(ws).map(|(x, w)| (x - mx) * (w - mw)).sum();
    if !(sxx > 0.0) {
        return None;
    }
    let a = sxw / sxx;
    Some((a, mw - a * mx))
}

/// Least squares `w = a·τ + b·δ` without intercept, `δ` = 1 for expiries carrying the event
/// and 0 before it → `(a, b)`; `None` when the system is singular.
fn fit_with_pre(xs: &[f64], ws: &[f64], events: &[f64]) -> Option<(f64, f64)> {
    let (mut sxx, mut sxd, mut sdd, mut sxw, mut sdw) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((x, w), d) in xs.iter().zip(ws).zip(events) {
        sxx += x * x;
        sxd += x * d;
        sdd += d * d;
        sxw += x * w;
        sdw += d * w;
    }
    let det = sxx * sdd - sxd * sxd;
    if !(det > 1e-12 * sxx * sdd) {
        return None;
    }
    Some(((sxw * sdd - sxd * sdw) / det, (sxx * sdw - sxd * sxw) / det))
}

fn usable(p: &&TermPoint) -> bool {
    p.atm_iv.is_finite()
        && p.atm_iv > 0.0
        && p.t_calendar > 0.0
        && p.tau_trading > 0.0
        && p.t_calendar.is_finite()
        && p.tau_trading.is_finite()
}

/// Event variance from post-event expiries: each expiry's total variance `w = σ²·T` (calendar
/// `T`) is fitted as `w = σ_d²·τ + E` in trading-day time `τ`; with two expiries this is
/// exactly `E = (w₁/τ₁ − w₂/τ₂) / (1/τ₁ − 1/τ₂)`.
///
/// # Errors
/// [`ImpliedMoveError::TooFewExpiries`] with fewer than two usable points.
pub fn event_move(points: &[TermPoint]) -> Result<EventMove, ImpliedMoveError> {
    fit_event(points, &[])
}

/// Event variance from every expiry in the window: post-event expiries carry `σ_d²·τ + E`,
/// pre-event expiries (expiring before the reaction) only `σ_d²·τ`, which pins the diffusion
/// down without the event: least squares over all of them. Needs two usable points with at
/// least one post-event expiry (one post-event and one pre-event point determine both
/// unknowns exactly).
///
/// # Errors
/// [`ImpliedMoveError::TooFewExpiries`] with too few usable points or a singular fit.
///
/// # Example
/// ```
/// use ivcrush_core::implied_move::{SQRT_2_OVER_PI, TermPoint, fit_event};
/// // A market whose total variance is w = σ_d²·τ + E: 40 % diffusion, a 5 % event.
/// let (diffusion, event_var) = (0.40_f64, 0.05_f64 * 0.05);
/// let point = |sessions: f64, days: f64, has_event: bool| {
///     let (tau, t) = (sessions / 252.0, days / 365.0);
///     let w = diffusion * diffusion * tau + if has_event { event_var } else { 0.0 };
///     TermPoint { t_calendar: t, tau_trading: tau, atm_iv: (w / t).sqrt() }
/// };
/// let post = [point(3.0, 3.0, true), point(8.0, 10.0, true), point(13.0, 17.0, true)];
/// let pre = [point(1.5, 1.5, false)];
/// let m = fit_event(&post, &pre).unwrap();
/// assert!((m.event_variance - event_var).abs() < 1e-12);
/// assert!((m.diffusion_vol - diffusion).abs() < 1e-9);
/// assert!((m.event_pct.value() - 100.0 * SQRT_2_OVER_PI * 0.05).abs() < 1e-9);
/// assert_eq!(m.expiries, 4);
/// // One point alone determines nothing.
/// assert!(fit_event(&post[..1], &[]).is_err());
/// ```
pub fn fit_event(post: &[TermPoint], pre: &[TermPoint]) -> Result<EventMove, ImpliedMoveError> {
    let post: Vec<&TermPoint> = post.iter().filter(usable).collect();
    let pre: Vec<&TermPoint> = pre.iter().filter(usable).collect();
    let n = post.len() + pre.len();
    if post.is_empty() || n < 2 {
        return Err(ImpliedMoveError::TooFewExpiries);
    }
    let all = || post.iter().chain(&pre);
    let w: Vec<f64> = all().map(|p| p.atm_iv * p.atm_iv * p.t_calendar).collect();
    let tau: Vec<f64> = all().map(|p| p.tau_trading).collect();
    let cal: Vec<f64> = all().map(|p| p.t_calendar).collect();
    let fit = |xs: &[f64]| {
        if pre.is_empty() {
            // The centred line fit: better conditioned than the normal equations.
            fit_line(xs, &w)
        } else {
            let events: Vec<f64> = (0..n)
                .map(|i| f64::from(u8::from(i < post.len())))
                .collect();
            fit_with_pre(xs, &w, &events)
        }
    };
    let (slope, e) = fit(&tau).ok_or(ImpliedMoveError::TooFewExpiries)?;
    let (_, e_cal) = fit(&cal).ok_or(ImpliedMoveError::TooFewExpiries)?;
    let clamped = e < 0.0;
    let e = e.max(0.0);
    Ok(EventMove {
        event_variance: e,
        event_pct: Pct::new(100.0 * SQRT_2_OVER_PI * e.sqrt())?,
        calendar_pct: Pct::new(100.0 * SQRT_2_OVER_PI * e_cal.max(0.0).sqrt())?,
        diffusion_vol: slope.max(0.0).sqrt(),
        method: if n == 2 {
            EventMoveMethod::TradingDaysTwoExpiries
        } else {
            EventMoveMethod::TradingDaysLeastSquares
        },
        negative_variance_clamped: clamped,
        diffusion_variance: slope,
        expiries: n,
        pre_event: !pre.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Timing;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn amc_event_expiry_is_on_or_after_the_next_session() {
        let exps = [d("2026-01-30"), d("2026-02-06"), d("2026-01-29")];
        let amc = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        };
        assert_eq!(event_expiry(&exps, &amc), Some(d("2026-01-30")));
        let bmo = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Bmo,
        };
        assert_eq!(event_expiry(&exps, &bmo), Some(d("2026-01-29")));
    }

    #[test]
    fn fixture_vols_give_the_trading_day_event_move() {
        // testdata/fixtures/vendors/README.md: the chains were generated counting the whole as-of
        // session (τ = 3/252 and 8/252); with those clocks the formula gives back the 3.59 % truth.
        // (The spec's clock, the hour left of the session, gives 3.76 %: see the next test.)
        let pts = [
            TermPoint {
                t_calendar: 49.0 / 24.0 / 365.0,
                tau_trading: 3.0 / 252.0,
                atm_iv: 0.696,
            },
            TermPoint {
                t_calendar: 217.0 / 24.0 / 365.0,
                tau_trading: 8.0 / 252.0,
                atm_iv: 0.394,
            },
        ];
        let m = event_move(&pts).expect("two expiries");
        assert!((m.event_pct.0 - 3.59).abs() < 0.01, "{:?}", m);
        assert!((m.calendar_pct.0 - 3.89).abs() < 0.02, "{:?}", m);
        assert_eq!(m.method, EventMoveMethod::TradingDaysTwoExpiries);
    }

    #[test]
    fn inverted_variance_is_clamped_with_a_flag() {
        let pts = [
            TermPoint {
                t_calendar: 0.01,
                tau_trading: 0.01,
                atm_iv: 0.2,
            },
            TermPoint {
                t_calendar: 0.05,
                tau_trading: 0.05,
                atm_iv: 0.4,
            },
        ];
        let m = event_move(&pts).expect("two expiries");
        assert!(m.negative_variance_clamped);
        assert_eq!(m.event_pct.0, 0.0);
    }
    #[test]
    fn fixture_vector_with_the_time_left_of_the_session_is_3_76() {
        // testdata/fixtures/vendors/README.md: as of Wed 2026-01-28 15:00 New York, expiries
        // Fri 2026-01-30 and Fri 2026-02-06; the as-of session counts for its hour left.
        let as_of: chrono::DateTime<chrono::Utc> = "2026-01-28T20:00:00Z".parse().expect("t");
        let pt = |exp: &str, iv: f64| TermPoint {
            t_calendar: crate::calendar::calendar_years(as_of, d(exp)),
            tau_trading: crate::calendar::trading_years_at(as_of, d(exp)),
            atm_iv: iv,
        };
        let m = event_move(&[pt("2026-01-30", 0.696), pt("2026-02-06", 0.394)]).expect("fit");
        assert!((m.event_pct.0 - 3.76).abs() < 0.005, "{m:?}");
        assert!((m.calendar_pct.0 - 3.89).abs() < 0.02, "{m:?}");
    }

    /// Points of a market with diffusion `sd` (trading-day time) and event variance `e`.
    fn market(sd: f64, e: f64, taus: &[(f64, bool)]) -> (Vec<TermPoint>, Vec<TermPoint>) {
        let mut post = Vec::new();
        let mut pre = Vec::new();
        for &(sessions, event) in taus {
            let tau = sessions / 252.0;
            // Calendar time with weekends: 7 calendar days per 5 sessions.
            let t = sessions * 7.0 / 5.0 / 365.0;
            let w = sd * sd * tau + if event { e } else { 0.0 };
            let p = TermPoint {
                t_calendar: t,
                tau_trading: tau,
                atm_iv: (w / t).sqrt(),
            };
            if event { post.push(p) } else { pre.push(p) }
        }
        (post, pre)
    }

    #[test]
    fn least_squares_over_many_expiries_and_a_pre_event_expiry_recover_the_truth() {
        let (sd, e) = (0.35, 0.05_f64.powi(2));
        let (post, pre) = market(
            sd,
            e,
            &[
                (1.2, false),
                (2.2, true),
                (7.2, true),
                (12.2, true),
                (17.2, true),
            ],
        );
        let m = fit_event(&post, &pre).expect("fit");
        assert!((m.event_variance / e - 1.0).abs() < 1e-9, "{m:?}");
        assert!((m.diffusion_vol / sd - 1.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m.method, EventMoveMethod::TradingDaysLeastSquares);
        assert_eq!(m.expiries, 5);
        assert!(m.pre_event);
        // One post-event and one pre-event expiry determine both unknowns exactly.
        let m = fit_event(&post[..1], &pre).expect("exact");
        assert!((m.event_variance / e - 1.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m.method, EventMoveMethod::TradingDaysTwoExpiries);
        // A pre-event expiry alone carries no event: nothing to fit.
        assert_eq!(fit_event(&[], &pre), Err(ImpliedMoveError::TooFewExpiries));
        // The forecast pieces: ex-event vol per expiry and the forward vol after the front.
        let iv = m
            .ex_event_iv(post[0].tau_trading, post[0].t_calendar)
            .expect("iv");
        let want = sd * (post[0].tau_trading / post[0].t_calendar).sqrt();
        assert!((iv - want).abs() < 1e-9);
        let fwd = m
            .forward_vol(
                (post[0].tau_trading, post[0].t_calendar),
                (post[1].tau_trading, post[1].t_calendar),
            )
            .expect("forward");
        let (w0, w1) = (
            post[0].atm_iv.powi(2) * post[0].t_calendar,
            post[1].atm_iv.powi(2) * post[1].t_calendar,
        );
        let model_free = ((w1 - w0) / (post[1].t_calendar - post[0].t_calendar)).sqrt();
        assert!((fwd - model_free).abs() < 1e-9, "{fwd} vs {model_free}");
    }
    #[test]
    fn the_fit_takes_the_window_and_the_last_pre_event_expiry() {
        let as_of: DateTime<Utc> = "2026-01-28T20:00:00Z".parse().expect("instant");
        let listed: Vec<NaiveDate> = [
            "2026-01-28",
            "2026-01-30",
            "2026-02-06",
            "2026-02-13",
            "2026-02-20",
            "2026-02-27",
            "2026-03-06",
            "2026-03-13",
            "2026-03-20",
            "2026-04-17",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        let bmo_monday = EarningsEvent {
            date: d("2026-02-02"),
            timing: Timing::Bmo,
        };
        let cfg = TermConfig::default();
        let f = fit_expiries(&listed, &bmo_monday, as_of, &cfg);
        // 01-28 expires within the hour (too little time left), 01-30 is before the reaction.
        assert_eq!(f.pre, Some(d("2026-01-30")));
        // The event expiry 02-06 and five weeks after it.
        assert_eq!(
            f.post,
            [
                "2026-02-06",
                "2026-02-13",
                "2026-02-20",
                "2026-02-27",
                "2026-03-06",
                "2026-03-13"
            ]
            .map(d)
        );
        let fetch = expirations_to_fetch(&listed, &bmo_monday, Some(d("2026-04-17")), as_of, &cfg);
        assert_eq!(fetch.len(), 8);
        assert_eq!(fetch.first(), Some(&d("2026-01-30")));
        assert_eq!(fetch.last(), Some(&d("2026-04-17")));
        // A narrow window still keeps two post-event expiries.
        let narrow = TermConfig {
            window_days: 1,
            pre_event: false,
            ..TermConfig::default()
        };
        let f = fit_expiries(&listed, &bmo_monday, as_of, &narrow);
        assert_eq!(f.post, [d("2026-02-06"), d("2026-02-13")]);
        assert_eq!(f.pre, None);
    }
}
