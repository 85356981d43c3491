//! Liquidity tiers (spec §6). A REJECT ticker is never tradeable.

use crate::config::LiquidityConfig;
use crate::types::OptionQuote;
use serde::{Deserialize, Serialize};

/// Liquidity tier, ordered worst to best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LiquidityTier {
    /// Untradeable.
    Reject,
    /// Tradeable with care.
    Warning,
    /// Good.
    Good,
    /// Excellent.
    Excellent,
}

impl LiquidityTier {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LiquidityTier::Reject => "REJECT",
            LiquidityTier::Warning => "WARNING",
            LiquidityTier::Good => "GOOD",
            LiquidityTier::Excellent => "EXCELLENT",
        }
    }
}

/// One option's liquidity with the reasons for its tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionLiquidity {
    /// Tier.
    pub tier: LiquidityTier,
    /// Open interest.
    pub open_interest: u64,
    /// Volume.
    pub volume: u64,
    /// Spread % of mid (`None` without a valid quote).
    pub spread_pct: Option<f64>,
    /// Why the tier is not higher (empty for EXCELLENT).
    pub reasons: Vec<String>,
}

/// Tier of one quote under `cfg`.
///
/// # Example
/// ```
/// use ivcrush_core::config::LiquidityConfig;
/// use ivcrush_core::liquidity::{LiquidityTier, option_liquidity};
/// use ivcrush_core::{OptionKind, OptionQuote};
/// let q = |bid, ask, volume, open_interest| OptionQuote {
///     kind: OptionKind::Call, strike: 100.0, bid, ask, last: None, volume, open_interest,
/// };
/// let cfg = LiquidityConfig::default();
/// // 2 % wide, 600 traded, 5,000 open: EXCELLENT.
/// assert_eq!(option_liquidity(&q(4.95, 5.05, 600, 5_000), &cfg).tier, LiquidityTier::Excellent);
/// // 40 % wide: REJECT however much trades.
/// assert_eq!(option_liquidity(&q(1.0, 1.5, 600, 5_000), &cfg).tier, LiquidityTier::Reject);
/// // No bid: no valid quote, REJECT.
/// assert_eq!(option_liquidity(&q(0.0, 1.0, 600, 5_000), &cfg).tier, LiquidityTier::Reject);
/// ```
pub fn option_liquidity(q: &OptionQuote, cfg: &LiquidityConfig) -> OptionLiquidity {
    let spread = q.spread_pct().map(|p| p.0);
    let oi = q.open_interest;
    let vol = q.volume;
    let size = cfg.position_size.unwrap_or(0);
    let mut reasons = Vec::new();
    let tier = match spread {
        None => {
            reasons.push("no valid two-sided quote (bid > 0, ask > bid)".to_string());
            LiquidityTier::Reject
        }
        Some(s) => {
            let mut reject = Vec::new();
            if oi < cfg.reject_min_oi {
                reject.push(format!("open interest {oi} < {}", cfg.reject_min_oi));
            }
            if s > cfg.reject_max_spread_pct {
                reject.push(format!("spread {s:.1}% > {}%", cfg.reject_max_spread_pct));
            }
            if vol < cfg.reject_min_volume {
                reject.push(format!("volume {vol} < {}", cfg.reject_min_volume));
            }
            if size > 0 && oi < size {
                reject.push(format!("open interest {oi} < position size {size}"));
            }
            if !reject.is_empty() {
                reasons = reject;
                LiquidityTier::Reject
            } else if oi >= cfg.excellent_min_oi
                && s <= cfg.excellent_max_spread_pct
                && vol >= cfg.excellent_min_volume
                && oi >= 5 * size
            {
                LiquidityTier::Excellent
            } else if oi >= cfg.good_min_oi
                && s <= cfg.good_max_spread_pct
                && vol >= cfg.good_min_volume
                && oi >= 2 * size
            {
                reasons.push(format!(
                    "below EXCELLENT (needs OI >= {}, spread <= {}%, volume >= {})",
                    cfg.excellent_min_oi.max(5 * size),
                    cfg.excellent_max_spread_pct,
                    cfg.excellent_min_volume
                ));
                LiquidityTier::Good
            } else {
                reasons.push(format!(
                    "below GOOD (needs OI >= {}, spread <= {}%, volume >= {})",
                    cfg.good_min_oi.max(2 * size),
                    cfg.good_max_spread_pct,
                    cfg.good_min_volume
                ));
                LiquidityTier::Warning
            }
        }
    };
    OptionLiquidity {
        tier,
        open_interest: oi,
        volume: vol,
        spread_pct: spread,
        reasons,
    }
}

/// The worst tier of several quotes (a strategy's tier is its worst leg's); REJECT for none.
pub fn worst_tier<'a>(
    quotes: impl IntoIterator<Item = &'a OptionQuote>,
    cfg: &LiquidityConfig,
) -> LiquidityTier {
    quotes
        .into_iter()
        .map(|q| option_liquidity(q, cfg).tier)
        .min()
        .unwrap_or(LiquidityTier::Reject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OptionKind;

    fn q(bid: f64, ask: f64, volume: u64, oi: u64) -> OptionQuote {
        OptionQuote {
            kind: OptionKind::Call,
            strike: 100.0,
            bid,
            ask,
            last: None,
            volume,
            open_interest: oi,
        }
    }

    #[test]
    fn tiers_follow_the_spec_thresholds() {
        let c = LiquidityConfig::default();
        assert_eq!(
            option_liquidity(&q(1.0, 1.05, 600, 1200), &c).tier,
            LiquidityTier::Excellent
        );
        assert_eq!(
            option_liquidity(&q(1.0, 1.10, 150, 600), &c).tier,
            LiquidityTier::Good
        );
        assert_eq!(
            option_liquidity(&q(1.0, 1.10, 50, 200), &c).tier,
            LiquidityTier::Warning
        );
        assert_eq!(
            option_liquidity(&q(1.0, 1.20, 600, 1200), &c).tier,
            LiquidityTier::Reject
        );
        assert_eq!(
            option_liquidity(&q(0.0, 0.05, 600, 1200), &c).tier,
            LiquidityTier::Reject
        );
        assert_eq!(
            option_liquidity(&q(1.0, 1.05, 5, 1200), &c).tier,
            LiquidityTier::Reject
        );
    }

    #[test]
    fn position_size_raises_the_open_interest_bar() {
        let c = LiquidityConfig {
            position_size: Some(300),
            ..LiquidityConfig::default()
        };
        // OI 1200 < 5 × 300: not EXCELLENT; ≥ 2 × 300: GOOD.
        assert_eq!(
            option_liquidity(&q(1.0, 1.05, 600, 1200), &c).tier,
            LiquidityTier::Good
        );
        assert_eq!(
            option_liquidity(&q(1.0, 1.05, 600, 250), &c).tier,
            LiquidityTier::Reject
        );
    }
}
