//! Realized-volatility estimators over daily OHLC bars (spec §9).
//!
//! Day `i` contributes its overnight return `ln(O_i/C_{i−1})`, its open-to-close return
//! `ln(C_i/O_i)`, its close-to-close return `ln(C_i/C_{i−1})` and its range terms; bar 0 only
//! supplies the first previous close. Earnings reaction days are excluded by dropping all of that
//! day's terms (not the row: the next day keeps its own previous close).

use crate::calendar::TRADING_DAYS_PER_YEAR;
use crate::types::Bar;
use serde::{Deserialize, Serialize};

/// One estimator's result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VolEstimate {
    /// Daily variance.
    pub daily_variance: f64,
    /// Annualised volatility `√(252 · daily variance)`.
    pub annualized_vol: f64,
}

impl VolEstimate {
    fn from_daily(v: f64) -> Self {
        VolEstimate {
            daily_variance: v,
            annualized_vol: (v * TRADING_DAYS_PER_YEAR).sqrt(),
        }
    }
}

/// All estimators over one window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RealizedVol {
    /// Days used.
    pub n: usize,
    /// Close-to-close, sample variance about the mean (n − 1).
    pub close_to_close: VolEstimate,
    /// Close-to-close about zero (n).
    pub close_to_close_zero_mean: VolEstimate,
    /// Parkinson (1980), high–low.
    pub parkinson: VolEstimate,
    /// Garman–Klass (1980).
    pub garman_klass: VolEstimate,
    /// Rogers–Satchell (1991), drift-independent.
    pub rogers_satchell: VolEstimate,
    /// Yang–Zhang (2000), the default.
    pub yang_zhang: VolEstimate,
    /// The Yang–Zhang weight `k = 0.34 / (1.34 + (n+1)/(n−1))`.
    pub yang_zhang_k: f64,
}

/// Why no estimate exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RealizedVolError {
    /// Fewer than two usable days.
    #[error("need at least 2 usable days, have {0}")]
    TooFewDays(usize),
    /// A bar with a non-positive or non-finite price.
    #[error("bar {0} has a non-positive or non-finite price")]
    BadBar(usize),
}

/// Every estimator over `bars` (oldest first), skipping the terms of the day indices in
/// `excluded` (indices into `bars`; index 0 has no terms anyway).
///
/// # Errors
/// [`RealizedVolError`] for corrupt bars or fewer than two usable days.
pub fn realized_vol(bars: &[Bar], excluded: &[usize]) -> Result<RealizedVol, RealizedVolError> {
    check_bars(bars)?;
    let terms: Vec<DayTerms> = (1..bars.len())
        .filter(|i| !excluded.contains(i))
        .map(|i| DayTerms::of(&bars[i - 1], &bars[i]))
        .collect();
    estimate(&terms)
}

/// Every bar has finite positive prices.
fn check_bars(bars: &[Bar]) -> Result<(), RealizedVolError> {
    for (i, b) in bars.iter().enumerate() {
        if ![b.open, b.high, b.low, b.close]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
        {
            return Err(RealizedVolError::BadBar(i));
        }
    }
    Ok(())
}

/// One day's terms: its returns and range products (computed once, shared by every window).
#[derive(Debug, Clone, Copy)]
struct DayTerms {
    close_to_close: f64,
    overnight: f64,
    open_to_close: f64,
    parkinson: f64,
    garman_klass: f64,
    rogers_satchell: f64,
}

impl DayTerms {
    fn of(p: &Bar, b: &Bar) -> DayTerms {
        let two_ln2_m1 = 2.0 * std::f64::consts::LN_2 - 1.0;
        let hl = (b.high / b.low).ln();
        let co = (b.close / b.open).ln();
        DayTerms {
            close_to_close: (b.close / p.close).ln(),
            overnight: (b.open / p.close).ln(),
            open_to_close: co,
            parkinson: hl * hl,
            garman_klass: 0.5 * hl * hl - two_ln2_m1 * co * co,
            rogers_satchell: (b.high / b.close).ln() * (b.high / b.open).ln()
                + (b.low / b.close).ln() * (b.low / b.open).ln(),
        }
    }
}

/// Every estimator over the days' terms.
fn estimate(days: &[DayTerms]) -> Result<RealizedVol, RealizedVolError> {
    let n = days.len();
    if n < 2 {
        return Err(RealizedVolError::TooFewDays(n));
    }
    let nf = n as f64;
    let sample_var = |f: fn(&DayTerms) -> f64| {
        let m = days.iter().map(f).sum::<f64>() / nf;
        days.iter().map(|d| (f(d) - m).powi(2)).sum::<f64>() / (nf - 1.0)
    };
    let sum = |f: fn(&DayTerms) -> f64| days.iter().map(f).sum::<f64>();
    let v_cc = sample_var(|d| d.close_to_close);
    let v_cc0 = sum(|d| d.close_to_close * d.close_to_close) / nf;
    let v_park = sum(|d| d.parkinson) / (4.0 * nf * std::f64::consts::LN_2);
    let v_gk = sum(|d| d.garman_klass) / nf;
    let v_rs = sum(|d| d.rogers_satchell) / nf;
    let k = 0.34 / (1.34 + (nf + 1.0) / (nf - 1.0));
    let v_yz = sample_var(|d| d.overnight) + k * sample_var(|d| d.open_to_close) + (1.0 - k) * v_rs;
    Ok(RealizedVol {
        n,
        close_to_close: VolEstimate::from_daily(v_cc),
        close_to_close_zero_mean: VolEstimate::from_daily(v_cc0),
        parkinson: VolEstimate::from_daily(v_park),
        garman_klass: VolEstimate::from_daily(v_gk),
        rogers_satchell: VolEstimate::from_daily(v_rs),
        yang_zhang: VolEstimate::from_daily(v_yz),
        yang_zhang_k: k,
    })
}

/// One window of the record's realized volatility (annualised with 252 sessions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RvWindow {
    /// Sessions whose returns entered (the window's, less any excluded reaction sessions).
    pub sessions: usize,
    /// Close-to-close: sample standard deviation of `ln(C_i/C_{i−1})`, annualised (decimal).
    pub close_to_close: f64,
    /// Yang–Zhang (2000): overnight, open-to-close and Rogers–Satchell terms, annualised
    /// (decimal); the spec's default estimator.
    pub yang_zhang: f64,
}

/// The record's realized volatility over the last 20 and 60 completed sessions, with and without
/// the reaction sessions of past reports.
///
/// The `_ex_earnings` windows are the same sessions with each reaction session's terms dropped
/// (spec §9: the day's terms, not its row), so they hold fewer sessions when a report fell
/// inside. A window is `None` when the bars do not cover it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealizedVolRecord {
    /// The last completed session the windows end on.
    pub last_session: chrono::NaiveDate,
    /// Last 20 sessions.
    pub rv20: Option<RvWindow>,
    /// Last 60 sessions.
    pub rv60: Option<RvWindow>,
    /// Last 20 sessions without the reaction sessions.
    pub rv20_ex_earnings: Option<RvWindow>,
    /// Last 60 sessions without the reaction sessions.
    pub rv60_ex_earnings: Option<RvWindow>,
    /// The reaction sessions dropped from the longest window covered (oldest first).
    pub excluded_sessions: Vec<chrono::NaiveDate>,
}

/// Sessions of the short window.
pub const RV_SHORT_SESSIONS: usize = 20;
/// Sessions of the long window.
pub const RV_LONG_SESSIONS: usize = 60;

impl RvWindow {
    fn of(rv: &RealizedVol) -> RvWindow {
        RvWindow {
            sessions: rv.n,
            close_to_close: rv.close_to_close.annualized_vol,
            yang_zhang: rv.yang_zhang.annualized_vol,
        }
    }
}

/// The windows of [`RealizedVolRecord`] over `bars` (oldest first, completed sessions only,
/// consecutive trading days), dropping the sessions dated in `reaction_sessions`.
///
/// # Errors
/// [`RealizedVolError`] for a corrupt bar in the long window or fewer than a short window's
/// worth of bars (21: twenty returns need a previous close).
///
/// # Example
/// ```
/// use ivcrush_core::realized::rv_record;
/// use ivcrush_core::Bar;
/// let start: chrono::NaiveDate = "2026-01-01".parse().unwrap();
/// let bars: Vec<Bar> = (0..61)
///     .map(|i| {
///         let c = 100.0 * (1.0 + 0.01 * ((i % 3) as f64 - 1.0));
///         Bar { date: start + chrono::Duration::days(i), open: c, high: c * 1.01, low: c * 0.99, close: c, volume: 0 }
///     })
///     .collect();
/// let rv = rv_record(&bars, &[bars[30].date]).unwrap();
/// assert_eq!(rv.rv60.unwrap().sessions, 60);
/// assert_eq!(rv.rv60_ex_earnings.unwrap().sessions, 59);
/// assert_eq!(rv.rv20_ex_earnings.unwrap().sessions, 20); // session 30 is outside the last 20
/// ```
pub fn rv_record(
    bars: &[Bar],
    reaction_sessions: &[chrono::NaiveDate],
) -> Result<RealizedVolRecord, RealizedVolError> {
    let Some(last) = bars.last() else {
        return Err(RealizedVolError::TooFewDays(0));
    };
    if bars.len() <= RV_SHORT_SESSIONS {
        return Err(RealizedVolError::TooFewDays(bars.len().saturating_sub(1)));
    }
    // The terms of the longest window's days, computed once; a window is a suffix of them.
    let first = bars.len().saturating_sub(RV_LONG_SESSIONS + 1);
    let span = &bars[first..];
    check_bars(span).map_err(|e| match e {
        RealizedVolError::BadBar(i) => RealizedVolError::BadBar(first + i),
        other => other,
    })?;
    let days: Vec<(bool, DayTerms)> = span
        .windows(2)
        .map(|w| {
            (
                reaction_sessions.contains(&w[1].date),
                DayTerms::of(&w[0], &w[1]),
            )
        })
        .collect();
    let mut kept: Vec<DayTerms> = Vec::with_capacity(days.len());
    let mut window = |sessions: usize, ex: bool| -> Option<RvWindow> {
        if days.len() < sessions {
            return None;
        }
        kept.clear();
        kept.extend(
            days[days.len() - sessions..]
                .iter()
                .filter(|(reaction, _)| !(ex && *reaction))
                .map(|(_, t)| *t),
        );
        estimate(&kept).ok().map(|rv| RvWindow::of(&rv))
    };
    // The sessions with a return (every bar but the first) of the longest window covered.
    let returns = RV_LONG_SESSIONS.min(bars.len() - 1);
    let excluded_sessions = bars[bars.len() - returns..]
        .iter()
        .map(|b| b.date)
        .filter(|d| reaction_sessions.contains(d))
        .collect();
    Ok(RealizedVolRecord {
        last_session: last.date,
        rv20: window(RV_SHORT_SESSIONS, false),
        rv60: window(RV_LONG_SESSIONS, false),
        rv20_ex_earnings: window(RV_SHORT_SESSIONS, true),
        rv60_ex_earnings: window(RV_LONG_SESSIONS, true),
        excluded_sessions,
    })
}
