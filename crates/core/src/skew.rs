//! Skew of the event expiry (spec §5): a vega-weighted quadratic fit of implied vol against
//! log-moneyness `k = ln(K/F)`, 25-delta risk reversal and butterfly, Mixon's normalised skew, and
//! the directional bias used to lean credit verticals.
//!
//! 25-delta strikes use the forward (undiscounted) Black delta with the fitted smile vol at each
//! strike (a sticky-strike fixed point). The bias never comes from put IV minus call IV at one
//! strike: by put–call parity that difference is ≈ 0 and carries no signal.

use crate::config::SkewConfig;
use crate::pricing::{norm_cdf, norm_inv};
use crate::smile::{SmilePoint, fit_quadratic};
use serde::{Deserialize, Serialize};

/// Fewest strikes for a fit.
pub const MIN_SKEW_POINTS: usize = 5;

/// The fitted smile and its summary measures (vols as decimal fractions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkewFit {
    /// Fitted vol at the forward (`c0`).
    pub level: f64,
    /// `∂σ/∂k` at the forward (`c1`).
    pub slope: f64,
    /// `c2` of `σ(k) = c0 + c1·k + c2·k²`.
    pub curvature: f64,
    /// Strikes used.
    pub points: usize,
    /// Strike of the 25-delta call, if it lies near the quoted strikes.
    pub k25_call: Option<f64>,
    /// Strike of the 25-delta put.
    pub k25_put: Option<f64>,
    /// Vol at the 25-delta call.
    pub iv25_call: Option<f64>,
    /// Vol at the 25-delta put.
    pub iv25_put: Option<f64>,
    /// σ25C − σ25P.
    pub risk_reversal_25: Option<f64>,
    /// (σ25C + σ25P)/2 − σATM.
    pub butterfly_25: Option<f64>,
    /// Mixon (2011): (σ25P − σ25C)/σATM.
    pub mixon: Option<f64>,
}

/// Fewer usable strikes than [`MIN_SKEW_POINTS`] or a degenerate fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not enough strikes for a skew fit: {have} usable, need {need}")]
pub struct SkewNoData {
    /// Usable strikes.
    pub have: usize,
    /// Required.
    pub need: usize,
}

impl SkewFit {
    /// Fitted vol at log-moneyness `k`.
    pub fn vol_at(&self, k: f64) -> f64 {
        self.level + self.slope * k + self.curvature * k * k
    }
}

/// Strike (log-moneyness) where the forward delta equals `target` (0.25 call: `N(d1)=0.25`; put:
/// `N(−d1)=0.25`), by bisection within a band around the quoted strikes.
fn delta_strike(fit: &SkewFit, t: f64, call: bool, lo: f64, hi: f64) -> Option<f64> {
    let z = norm_inv(0.75); // 0.6745: |d1| of a 25-delta option
    let target_d1 = if call { -z } else { z };
    let d1 = |k: f64| {
        let s = fit.vol_at(k).max(1e-6) * t.sqrt();
        -k / s + 0.5 * s
    };
    let h = |k: f64| d1(k) - target_d1; // decreasing in k for any sane smile
    let (mut a, mut b) = (lo, hi);
    let (ha, hb) = (h(a), h(b));
    if !(ha > 0.0 && hb < 0.0) {
        return None;
    }
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if m == a || m == b {
            break;
        }
        if h(m) > 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    let k = 0.5 * (a + b);
    // Sanity: the delta we land on must be the one asked for.
    let delta = if call {
        norm_cdf(d1(k))
    } else {
        norm_cdf(-d1(k))
    };
    ((delta - 0.25).abs() < 1e-6).then_some(k)
}

/// Fits the smile of one expiry (`t` in years, `forward` the expiry's forward).
///
/// # Errors
/// [`SkewNoData`] with fewer than five usable strikes or a singular fit.
///
/// # Example
/// ```
/// use ivcrush_core::OptionKind;
/// use ivcrush_core::config::SkewConfig;
/// use ivcrush_core::skew::{Bias, fit_skew, skew_bias};
/// use ivcrush_core::smile::SmilePoint;
/// // A smile σ(k) = 0.40 − 0.20·k + 0.80·k² in log-moneyness k = ln(K/F): puts richer.
/// let points: Vec<SmilePoint> = (-4..=4)
///     .map(|i| {
///         let k = f64::from(i) * 0.05;
///         SmilePoint {
///             strike: 100.0 * k.exp(),
///             k,
///             iv: 0.40 - 0.20 * k + 0.80 * k * k,
///             vega: 1.0,
///             kind: if k < 0.0 { OptionKind::Put } else { OptionKind::Call },
///         }
///     })
///     .collect();
/// let fit = fit_skew(&points, 30.0 / 365.0, 100.0).unwrap();
/// assert!((fit.level - 0.40).abs() < 1e-9 && (fit.slope + 0.20).abs() < 1e-9);
/// assert!(fit.risk_reversal_25.unwrap() < 0.0, "25Δ puts above 25Δ calls");
/// assert!(fit.mixon.unwrap() > 0.0);
/// let _bias: Bias = skew_bias(&fit, &SkewConfig::default());
/// // Four strikes are too few.
/// assert_eq!(fit_skew(&points[..4], 30.0 / 365.0, 100.0).unwrap_err().need, 5);
/// ```
pub fn fit_skew(points: &[SmilePoint], t: f64, forward: f64) -> Result<SkewFit, SkewNoData> {
    let usable: Vec<&SmilePoint> = points
        .iter()
        .filter(|p| p.iv.is_finite() && p.iv > 0.0 && p.k.is_finite() && p.vega.is_finite())
        .collect();
    let nd = SkewNoData {
        have: usable.len(),
        need: MIN_SKEW_POINTS,
    };
    if usable.len() < MIN_SKEW_POINTS || !(t > 0.0) || !(forward > 0.0) {
        return Err(nd);
    }
    let [c0, c1, c2] = fit_quadratic(usable.iter().copied()).ok_or(nd)?;
    let mut fit = SkewFit {
        level: c0,
        slope: c1,
        curvature: c2,
        points: usable.len(),
        k25_call: None,
        k25_put: None,
        iv25_call: None,
        iv25_put: None,
        risk_reversal_25: None,
        butterfly_25: None,
        mixon: None,
    };
    let kmin = usable.iter().map(|p| p.k).fold(f64::INFINITY, f64::min);
    let kmax = usable.iter().map(|p| p.k).fold(f64::NEG_INFINITY, f64::max);
    let pad = 0.25 * (kmax - kmin);
    let kc = delta_strike(&fit, t, true, 0.0, kmax + pad);
    let kp = delta_strike(&fit, t, false, kmin - pad, 0.0);
    fit.k25_call = kc.map(|k| forward * k.exp());
    fit.k25_put = kp.map(|k| forward * k.exp());
    fit.iv25_call = kc.map(|k| fit.vol_at(k));
    fit.iv25_put = kp.map(|k| fit.vol_at(k));
    if let (Some(c), Some(p)) = (fit.iv25_call, fit.iv25_put) {
        fit.risk_reversal_25 = Some(c - p);
        fit.butterfly_25 = Some(0.5 * (c + p) - c0);
        fit.mixon = (c0 > 0.0).then(|| (p - c) / c0);
    }
    Ok(fit)
}

/// Directional bias read from the out-of-the-money skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Bias {
    /// Steep put skew.
    Bearish,
    /// Neither side unusually rich.
    Neutral,
    /// Call skew.
    Bullish,
}

/// The bias rule in words, with the configured thresholds (shown beside the bias).
pub fn bias_rule(cfg: &SkewConfig) -> String {
    format!(
        "BEARISH when Mixon (σ25P − σ25C)/σATM ≥ {}, BULLISH when ≤ {}, else NEUTRAL",
        cfg.bearish_above, cfg.bullish_below
    )
}

/// Bias from Mixon's measure and the configured thresholds; neutral without a measure.
pub fn skew_bias(fit: &SkewFit, cfg: &SkewConfig) -> Bias {
    match fit.mixon {
        Some(m) if m >= cfg.bearish_above => Bias::Bearish,
        Some(m) if m <= cfg.bullish_below => Bias::Bullish,
        _ => Bias::Neutral,
    }
}
