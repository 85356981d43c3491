//! Volatility risk premium: implied move over historical move, tiers, edge score (spec §4).

use crate::config::VrpConfig;
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

/// The VRP of one ticker.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Vrp {
    /// implied % / historical %.
    pub ratio: f64,
    /// Tier of the ratio.
    pub tier: VrpTier,
    /// `ratio / (1 + MAD/median)`: consistent histories score higher.
    pub edge_score: f64,
    /// The tier the ratio would have had when a blocking data-quality problem withheld it
    /// (`tier` is then SKIP); see the record's `data_quality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld_tier: Option<VrpTier>,
}

/// Tier of a ratio (non-finite ratios are SKIP).
pub fn vrp_tier(ratio: f64, cfg: &VrpConfig) -> VrpTier {
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

/// VRP from an implied move and historical statistics (both in percent).
///
/// # Errors
/// [`VrpError`] for a non-positive historical or a negative implied figure.
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
    })
}
