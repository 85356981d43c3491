//! Component scores (0–100), the composite and the `tradeable` decision (spec §7).

use crate::config::{AnalyticsConfig, ScoreConfig, SkewConfig, VrpConfig};
use crate::liquidity::LiquidityTier;
use crate::vrp::VrpTier;
use serde::{Deserialize, Serialize};

/// Piecewise-linear interpolation through `(x, y)` knots sorted by `x`, flat outside.
fn piecewise(knots: &[(f64, f64)], x: f64) -> f64 {
    let Some(first) = knots.first() else {
        return 0.0;
    };
    if x.is_nan() || x <= first.0 {
        return first.1;
    }
    for w in knots.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x1 {
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
        }
    }
    knots.last().map_or(first.1, |k| k.1)
}

/// VRP component: a smooth saturating (log-logistic) curve of the ratio,
/// `100 · r^p / (r^p + m^p)` with `m` the MARGINAL ratio (scores 50) and `p` chosen so that the
/// EXCELLENT ratio scores `score.vrp_at_excellent` (default 90; GOOD 1.5 then scores ≈ 72).
///
/// Strictly increasing and never 100: a piecewise-linear score capped at EXCELLENT gave every
/// ratio above 2.0 the same 100, so a 2.94 and a 5.17 tied and the ranking could not tell them
/// apart. 0 for a ratio of 0 or one that is not a number.
pub fn vrp_score(ratio: f64, vrp: &VrpConfig, sc: &ScoreConfig) -> f64 {
    if !(ratio > 0.0) {
        return 0.0;
    }
    if ratio.is_infinite() {
        return 100.0;
    }
    let a = sc.vrp_at_excellent / 100.0;
    let p = (a / (1.0 - a)).ln() / (vrp.excellent / vrp.marginal).ln();
    // 100 / (1 + (m/r)^p), written so that large ratios do not overflow.
    100.0 / (1.0 + (p * (vrp.marginal / ratio).ln()).exp())
}

/// Liquidity component: REJECT 0, WARNING 40, GOOD 75, EXCELLENT 100.
pub fn liquidity_score(tier: LiquidityTier) -> f64 {
    match tier {
        LiquidityTier::Reject => 0.0,
        LiquidityTier::Warning => 40.0,
        LiquidityTier::Good => 75.0,
        LiquidityTier::Excellent => 100.0,
    }
}

/// Consistency component from MAD/median of the absolute moves: 100 at or below
/// `consistency_best`, 0 at or above `consistency_worst`, linear between.
pub fn consistency_score(mad_over_median: f64, sc: &ScoreConfig) -> f64 {
    if !mad_over_median.is_finite() {
        return 0.0;
    }
    piecewise(
        &[(sc.consistency_best, 100.0), (sc.consistency_worst, 0.0)],
        mad_over_median,
    )
}

/// Skew component from Mixon's `(σ25P − σ25C)/σATM`: 100 when puts are at least as rich as
/// calls (the normal equity skew: rich puts are what a premium seller sells, so they are not
/// punished), falling linearly to 0 as calls get richer than puts, at Mixon `−score_zero_at`
/// (the market fears an upside jump, which short calls carry without a bound); 50 when there is
/// no skew measure.
pub fn skew_score(mixon: Option<f64>, cfg: &SkewConfig) -> f64 {
    match mixon {
        Some(m) if m.is_finite() => {
            (100.0 * (1.0 + m.min(0.0) / cfg.score_zero_at)).clamp(0.0, 100.0)
        }
        _ => 50.0,
    }
}

/// The four components and their weighted sum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// VRP component.
    pub vrp: f64,
    /// Liquidity component.
    pub liquidity: f64,
    /// Consistency component.
    pub consistency: f64,
    /// Skew component.
    pub skew: f64,
    /// Weighted sum (0–100).
    pub composite: f64,
}

/// Inputs of the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreInputs {
    /// VRP ratio.
    pub vrp_ratio: f64,
    /// Ticker liquidity tier.
    pub liquidity: LiquidityTier,
    /// MAD / median of absolute historical moves.
    pub mad_over_median: f64,
    /// Mixon skew, if fitted.
    pub mixon: Option<f64>,
}

/// Component and composite scores.
///
/// # Example
/// ```
/// use ivcrush_core::AnalyticsConfig;
/// use ivcrush_core::liquidity::LiquidityTier;
/// use ivcrush_core::score::{ScoreInputs, score};
/// let cfg = AnalyticsConfig::default();
/// let rich = ScoreInputs {
///     vrp_ratio: 2.2,
///     liquidity: LiquidityTier::Excellent,
///     mad_over_median: 0.3,
///     mixon: Some(0.05),
/// };
/// let s = score(&rich, &cfg);
/// assert!((0.0..=100.0).contains(&s.composite));
/// // A thinner premium scores lower, everything else equal.
/// let thin = score(&ScoreInputs { vrp_ratio: 1.1, ..rich }, &cfg);
/// assert!(thin.vrp < s.vrp && thin.composite < s.composite);
/// ```
pub fn score(inp: &ScoreInputs, cfg: &AnalyticsConfig) -> ScoreBreakdown {
    let sc = &cfg.score;
    let vrp = vrp_score(inp.vrp_ratio, &cfg.vrp, sc);
    let liquidity = liquidity_score(inp.liquidity);
    let consistency = consistency_score(inp.mad_over_median, sc);
    let skew = skew_score(inp.mixon, &cfg.skew);
    let composite = sc.weight_vrp * vrp
        + sc.weight_liquidity * liquidity
        + sc.weight_consistency * consistency
        + sc.weight_skew * skew;
    ScoreBreakdown {
        vrp,
        liquidity,
        consistency,
        skew,
        composite,
    }
}

/// `tradeable` = VRP tier ≥ MARGINAL, liquidity ≠ REJECT and composite ≥ `min_score`.
///
/// # Example
/// ```
/// use ivcrush_core::config::ScoreConfig;
/// use ivcrush_core::liquidity::LiquidityTier;
/// use ivcrush_core::score::is_tradeable;
/// use ivcrush_core::vrp::VrpTier;
/// let sc = ScoreConfig::default();
/// assert!(is_tradeable(VrpTier::Excellent, LiquidityTier::Good, 90.0, &sc));
/// // No premium or no market: never tradeable, whatever the score.
/// assert!(!is_tradeable(VrpTier::Skip, LiquidityTier::Excellent, 100.0, &sc));
/// assert!(!is_tradeable(VrpTier::Excellent, LiquidityTier::Reject, 100.0, &sc));
/// ```
pub fn is_tradeable(
    vrp_tier: VrpTier,
    liquidity: LiquidityTier,
    composite: f64,
    sc: &ScoreConfig,
) -> bool {
    vrp_tier >= VrpTier::Marginal
        && liquidity != LiquidityTier::Reject
        && composite.is_finite()
        && composite >= sc.min_score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrp_score_passes_the_anchors_and_never_saturates() {
        let c = AnalyticsConfig::default();
        let s = |r: f64| vrp_score(r, &c.vrp, &c.score);
        assert!((s(1.2) - 50.0).abs() < 1e-9);
        assert!((s(2.0) - 90.0).abs() < 1e-9);
        assert!((s(1.5) - 72.3).abs() < 0.1, "{}", s(1.5));
        // The two tickers that tied at 96.05 under the old capped score.
        assert!(s(5.17) > s(2.94) + 1.0, "{} {}", s(5.17), s(2.94));
        assert!(s(5.17) < 100.0);
        assert_eq!(s(f64::NAN), 0.0);
        assert_eq!(s(0.0), 0.0);
        assert_eq!(s(-1.0), 0.0);
    }

    #[test]
    fn rich_puts_are_not_punished_call_skew_is() {
        let c = SkewConfig::default();
        assert_eq!(skew_score(Some(0.0), &c), 100.0);
        assert_eq!(skew_score(Some(0.35), &c), 100.0);
        assert!((skew_score(Some(-0.2), &c) - 50.0).abs() < 1e-9);
        assert_eq!(skew_score(Some(-0.9), &c), 0.0);
        assert_eq!(skew_score(None, &c), 50.0);
    }

    #[test]
    fn reject_liquidity_is_never_tradeable() {
        let c = AnalyticsConfig::default();
        assert!(!is_tradeable(
            VrpTier::Excellent,
            LiquidityTier::Reject,
            100.0,
            &c.score
        ));
        assert!(is_tradeable(
            VrpTier::Marginal,
            LiquidityTier::Warning,
            60.0,
            &c.score
        ));
        assert!(!is_tradeable(
            VrpTier::Skip,
            LiquidityTier::Excellent,
            99.0,
            &c.score
        ));
    }
}
