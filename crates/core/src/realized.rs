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
    for (i, b) in bars.iter().enumerate() {
        if ![b.open, b.high, b.low, b.close]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
        {
            return Err(RealizedVolError::BadBar(i));
        }
    }
    let days: Vec<usize> = (1..bars.len()).filter(|i| !excluded.contains(i)).collect();
    let n = days.len();
    if n < 2 {
        return Err(RealizedVolError::TooFewDays(n));
    }
    let nf = n as f64;
    let (mut cc, mut oc_o, mut oc_c) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut park, mut gk, mut rs) = (0.0, 0.0, 0.0);
    let two_ln2_m1 = 2.0 * std::f64::consts::LN_2 - 1.0;
    for &i in &days {
        let (p, b) = (&bars[i - 1], &bars[i]);
        cc.push((b.close / p.close).ln());
        oc_o.push((b.open / p.close).ln());
        oc_c.push((b.close / b.open).ln());
        let hl = (b.high / b.low).ln();
        let co = (b.close / b.open).ln();
        park += hl * hl;
        gk += 0.5 * hl * hl - two_ln2_m1 * co * co;
        rs += (b.high / b.close).ln() * (b.high / b.open).ln()
            + (b.low / b.close).ln() * (b.low / b.open).ln();
    }
    let sample_var = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
    };
    let v_cc = sample_var(&cc);
    let v_cc0 = cc.iter().map(|v| v * v).sum::<f64>() / nf;
    let v_park = park / (4.0 * nf * std::f64::consts::LN_2);
    let v_gk = gk / nf;
    let v_rs = rs / nf;
    let k = 0.34 / (1.34 + (nf + 1.0) / (nf - 1.0));
    let v_yz = sample_var(&oc_o) + k * sample_var(&oc_c) + (1.0 - k) * v_rs;
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
