//! Volatility risk premium: implied move over historical move, tiers, edge score (spec §4).
//!
//! Like with like: by default the implied figure is the term-structure event move (an expected
//! one-day event move) against the mean one-day reaction; the straddle-based ratio is carried
//! beside it, and [`Vrp::basis`] says which one decided the tier.
//!
//! Tiers are decided on the ratio as displayed, rounded to two decimals ([`displayed_ratio`]):
//! a table showing "VRP 1.20" must not say SKIP because the unrounded ratio was 1.1988.

use crate::config::VrpConfig;
use crate::uncertainty::RatioInterval;
use serde::{Deserialize, Serialize};

/// VRP tier, ordered from worst to best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrpTier {
    /// Below MARGINAL: do not sell.
    Skip,
    /// ≥ 1.2 by default.
    Marginal,
    /// ≥ 1.5 by default.
    Good,
    /// ≥ 2.0 by default.
    Excellent,
}

impl VrpTier {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            VrpTier::Skip => "SKIP",
            VrpTier::Marginal => "MARGINAL",
            VrpTier::Good => "GOOD",
            VrpTier::Excellent => "EXCELLENT",
        }
    }
}

/// Which implied figure the ratio (and so the tier, score and decision) used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VrpBasis {
    /// The term-structure event move (default).
    Event,
    /// The ATM straddle to the analysed expiry.
    Straddle,
    /// The straddle interpolated to the forward (configured, or the fallback when no event move
    /// could be extracted). The default of records written before the basis was recorded.
    #[default]
    Interpolated,
}

impl VrpBasis {
    /// `"event"`, `"straddle"` or `"interpolated"`.
    pub fn as_str(self) -> &'static str {
        match self {
            VrpBasis::Event => "event",
            VrpBasis::Straddle => "straddle",
            VrpBasis::Interpolated => "interpolated",
        }
    }
}

/// What withheld the point estimate's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithheldBy {
    /// A blocking data-quality note: the tier is SKIP.
    DataQuality,
    /// The ratio interval's lower bound clears a lower tier only.
    Uncertainty,
}

impl WithheldBy {
    /// `"data quality"` or `"uncertainty"`.
    pub fn as_text(self) -> &'static str {
        match self {
            WithheldBy::DataQuality => "data quality",
            WithheldBy::Uncertainty => "uncertainty",
        }
    }
}

/// The VRP of one ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vrp {
    /// implied % / historical % on [`Vrp::basis`] (full precision; the tier is decided on it
    /// rounded to two decimals).
    pub ratio: f64,
    /// Tier awarded: the tier of the interval's lower bound ([`Vrp::ratio_ci`]), SKIP when a
    /// blocking data-quality problem withholds it.
    pub tier: VrpTier,
    /// `ratio / (1 + MAD/median)`: consistent histories score higher.
    pub edge_score: f64,
    /// The tier the point estimate of the ratio would have had, when it was withheld: by a
    /// blocking data-quality problem (`tier` is then SKIP; see the record's `data_quality`) or
    /// by uncertainty (the interval's lower bound clears only `tier`). [`Vrp::withheld_reason`]
    /// says which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld_tier: Option<VrpTier>,
    /// What withheld [`Vrp::withheld_tier`] (a blocking data-quality note wins when both did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld_by: Option<WithheldBy>,
    /// Why [`Vrp::withheld_tier`] was withheld, e.g. "VRP 1.62 would be GOOD; its 90 % interval
    /// [1.31, 2.05] clears only MARGINAL".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld_reason: Option<String>,
    /// Confidence interval of the ratio from the historical mean move's
    /// (`historical.mean_ci`; level `vrp.confidence_level`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_ci: Option<RatioInterval>,
    /// The diffusion VRP: the fit's ex-event (diffusion) vol over the realized vol without the
    /// earnings sessions (Yang–Zhang, last 20 sessions; `realized_vol.rv20_ex_earnings`).
    /// Above 1 the options price more ordinary movement than the stock has been making.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diffusion_ratio: Option<f64>,
    /// Which implied figure the ratio uses: `event`, `straddle` or `interpolated`.
    #[serde(default)]
    pub basis: VrpBasis,
    /// The implied figure of the ratio, percent.
    #[serde(default)]
    pub implied_pct: Option<f64>,
    /// The interpolated straddle / historical, shown beside the ratio (it also prices every
    /// ordinary session before expiry, so it overstates the event premium).
    #[serde(default)]
    pub straddle_ratio: Option<f64>,
    /// Share (0–1) of the analysed straddle's variance that is not the event:
    /// `1 − E / (σ²·T)` of the analysed expiry. `None` without an event move.
    #[serde(default)]
    pub non_event_share: Option<f64>,
}

/// The ratio as displayed with two decimals, the figure the tier is decided on.
///
/// Formatted and parsed back rather than `(x·100).round()/100`: the product rounds in binary
/// and can land on the other side of a half from what `{:.2}` shows.
pub fn displayed_ratio(ratio: f64) -> f64 {
    if !ratio.is_finite() {
        return ratio;
    }
    format!("{ratio:.2}").parse().unwrap_or(ratio)
}

/// Tier of a ratio, decided on the ratio rounded to the two displayed decimals
/// ([`displayed_ratio`]); non-finite ratios are SKIP.
///
/// # Example
/// ```
/// use ivcrush_core::config::VrpConfig;
/// use ivcrush_core::vrp::{VrpTier, vrp_tier};
/// let cfg = VrpConfig::default();
/// // The tier follows the ratio as displayed (two decimals): 1.4996 shows as 1.50, so GOOD.
/// assert_eq!(vrp_tier(1.4996, &cfg), VrpTier::Good);
/// assert_eq!(vrp_tier(1.2, &cfg), VrpTier::Marginal);
/// assert_eq!(vrp_tier(1.0, &cfg), VrpTier::Skip);
/// assert_eq!(vrp_tier(f64::NAN, &cfg), VrpTier::Skip);
/// ```
pub fn vrp_tier(ratio: f64, cfg: &VrpConfig) -> VrpTier {
    let ratio = displayed_ratio(ratio);
    if !ratio.is_finite() {
        VrpTier::Skip
    } else if ratio >= cfg.excellent {
        VrpTier::Excellent
    } else if ratio >= cfg.good {
        VrpTier::Good
    } else if ratio >= cfg.marginal {
        VrpTier::Marginal
    } else {
        VrpTier::Skip
    }
}

/// Why no VRP exists.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VrpError {
    /// The historical move is zero or not finite.
    #[error("historical move must be a finite number > 0 (got {0})")]
    BadHistorical(f64),
    /// The implied move is negative or not finite.
    #[error("implied move must be a finite number >= 0 (got {0})")]
    BadImplied(f64),
}

/// VRP from an implied move and historical statistics (both in percent). The caller records
/// the basis and the straddle ratio ([`Vrp::basis`], [`Vrp::straddle_ratio`]).
///
/// # Errors
/// [`VrpError`] for a non-positive historical or a negative implied figure.
///
/// # Example
/// ```
/// use ivcrush_core::config::VrpConfig;
/// use ivcrush_core::vrp::{VrpError, VrpTier, vrp};
/// let cfg = VrpConfig::default(); // GOOD from 1.5, EXCELLENT from 2.0
/// let v = vrp(6.0, 3.6, 1.0, 3.5, &cfg).unwrap();
/// assert!((v.ratio - 6.0 / 3.6).abs() < 1e-12);
/// assert_eq!(v.tier, VrpTier::Good);
/// assert_eq!(vrp(7.2, 3.6, 1.0, 3.5, &cfg).unwrap().tier, VrpTier::Excellent);
/// assert_eq!(vrp(4.0, 0.0, 1.0, 3.5, &cfg), Err(VrpError::BadHistorical(0.0)));
/// ```
pub fn vrp(
    implied_pct: f64,
    historical_pct: f64,
    mad_pct: f64,
    median_pct: f64,
    cfg: &VrpConfig,
) -> Result<Vrp, VrpError> {
    if !(historical_pct.is_finite() && historical_pct > 0.0) {
        return Err(VrpError::BadHistorical(historical_pct));
    }
    if !(implied_pct.is_finite() && implied_pct >= 0.0) {
        return Err(VrpError::BadImplied(implied_pct));
    }
    let ratio = implied_pct / historical_pct;
    let dispersion = if median_pct > 0.0 && mad_pct.is_finite() {
        mad_pct / median_pct
    } else {
        0.0
    };
    Ok(Vrp {
        ratio,
        tier: vrp_tier(ratio, cfg),
        edge_score: ratio / (1.0 + dispersion),
        withheld_tier: None,
        withheld_by: None,
        withheld_reason: None,
        ratio_ci: None,
        diffusion_ratio: None,
        basis: VrpBasis::Interpolated,
        implied_pct: Some(implied_pct),
        straddle_ratio: None,
        non_event_share: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tier_is_decided_on_the_figure_shown() {
        let cfg = VrpConfig::default();
        // Shown as "1.20": MARGINAL, not SKIP.
        assert_eq!(format!("{:.2}", 1.1988), "1.20");
        assert_eq!(vrp_tier(1.1988, &cfg), VrpTier::Marginal);
        // Shown as "1.19": SKIP. The binary 1.195 lies just above its decimal and shows 1.20.
        assert_eq!(format!("{:.2}", 1.1949), "1.19");
        assert_eq!(vrp_tier(1.1949, &cfg), VrpTier::Skip);
        assert_eq!(format!("{:.2}", 1.195), "1.20");
        assert_eq!(vrp_tier(1.195, &cfg), VrpTier::Marginal);
        assert_eq!(vrp_tier(1.4951, &cfg), VrpTier::Good);
        assert_eq!(vrp_tier(f64::NAN, &cfg), VrpTier::Skip);
        assert_eq!(vrp_tier(f64::INFINITY, &cfg), VrpTier::Skip);
    }
}
