//! Every threshold and weight of the analytics, in one serde-deserialisable place with the
//! spec's defaults. [`AnalyticsConfig::validate`] reports every problem at once.
//!
//! There is exactly one configuration: an older system of this kind kept nine VRP threshold sets
//! and four liquidity rules side by side, and nobody knew which one decided.

use crate::moves::MoveMetric;
use serde::{Deserialize, Serialize};

/// All analytics settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// VRP tiers and inputs.
    pub vrp: VrpConfig,
    /// Historical-move statistics.
    pub moves: MovesConfig,
    /// Liquidity tiers.
    pub liquidity: LiquidityConfig,
    /// Skew bias thresholds.
    pub skew: SkewConfig,
    /// Composite score.
    pub score: ScoreConfig,
    /// Strategy construction.
    pub strategy: StrategyConfig,
    /// Sanity gates and data-quality thresholds.
    pub gates: crate::quality::GateConfig,
    /// The term-structure fit (which expiries, which window).
    pub term: TermConfig,
    /// Each expiry's forward (put–call parity or rate and yield).
    pub forward: crate::forward::ForwardConfig,
}

/// Which implied figure the VRP ratio uses (spec §4).
///
/// The default is the event move: the straddle to expiry also prices every ordinary session
/// before expiry, so a straddle-based ratio against a one-day reaction grows with the distance to
/// expiry, ranks the furthest events first, and lets a later expiry turn a trade on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImpliedSource {
    /// ATM straddle / spot.
    Straddle,
    /// Straddle interpolated to the forward.
    Interpolated,
    /// Term-structure event move (default): like with like against the one-day reaction.
    #[default]
    Event,
}

/// Which historical statistic the VRP ratio divides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HistoricalStat {
    /// Mean absolute move (default).
    #[default]
    Mean,
    /// Median absolute move.
    Median,
    /// Exponentially weighted mean.
    Ewma,
}

/// VRP settings (spec §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VrpConfig {
    /// Ratio for EXCELLENT (default 2.0).
    pub excellent: f64,
    /// Ratio for GOOD (default 1.5).
    pub good: f64,
    /// Ratio for MARGINAL (default 1.2).
    pub marginal: f64,
    /// Implied figure (default the term-structure event move; the interpolated straddle when
    /// no event move can be extracted, with a warning).
    pub implied: ImpliedSource,
    /// Historical statistic (default mean).
    pub historical: HistoricalStat,
    /// Warn when more than this share (0–1) of the analysed straddle's variance is ordinary
    /// movement rather than the event (default 0.5): the straddle then sells mostly diffusion.
    pub non_event_share_warning: f64,
    /// Two-sided level of the confidence intervals on the historical mean move and the VRP
    /// ratio (default 0.90). A tier is awarded only when the ratio interval's lower bound clears
    /// its threshold.
    pub confidence_level: f64,
}

impl Default for VrpConfig {
    fn default() -> Self {
        VrpConfig {
            excellent: 2.0,
            good: 1.5,
            marginal: 1.2,
            implied: ImpliedSource::Event,
            historical: HistoricalStat::Mean,
            non_event_share_warning: 0.5,
            confidence_level: 0.90,
        }
    }
}

/// The term-structure fit (spec §2): which expiries enter `w = σ_d²·τ + E`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TermConfig {
    /// Post-event expiries up to this many calendar days after the event expiry enter the fit
    /// (default 35). Further out the diffusion vol is less flat and the next report nears.
    pub window_days: u32,
    /// Use the last expiry before the reaction, when listed, for a cleaner ex-event vol
    /// (default true): it carries the diffusion without the event.
    pub pre_event: bool,
    /// A pre-event expiry needs at least this many sessions of trading-day time left
    /// (default 1.0): nearer the bell its ATM vol is mostly quote rounding.
    pub min_pre_event_sessions: f64,
}

impl Default for TermConfig {
    fn default() -> Self {
        TermConfig {
            window_days: 35,
            pre_event: true,
            min_pre_event_sessions: 1.0,
        }
    }
}

/// Historical-move settings (spec §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovesConfig {
    /// Reports considered (default 12).
    pub lookback: usize,
    /// Fewest reports for statistics (default 4).
    pub min_reports: usize,
    /// EWMA half-life in reports (default 4).
    pub ewma_half_life: f64,
    /// Move metric (default close-to-close).
    pub metric: MoveMetric,
}

impl Default for MovesConfig {
    fn default() -> Self {
        MovesConfig {
            lookback: 12,
            min_reports: 4,
            ewma_half_life: 4.0,
            metric: MoveMetric::Close,
        }
    }
}

/// Liquidity tier thresholds (spec §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiquidityConfig {
    /// REJECT below this open interest (100).
    pub reject_min_oi: u64,
    /// REJECT above this spread % (15).
    pub reject_max_spread_pct: f64,
    /// REJECT below this volume (10).
    pub reject_min_volume: u64,
    /// GOOD needs this open interest (500).
    pub good_min_oi: u64,
    /// GOOD needs at most this spread % (12).
    pub good_max_spread_pct: f64,
    /// GOOD needs this volume (100).
    pub good_min_volume: u64,
    /// EXCELLENT needs this open interest (1000).
    pub excellent_min_oi: u64,
    /// EXCELLENT needs at most this spread % (8).
    pub excellent_max_spread_pct: f64,
    /// EXCELLENT needs this volume (500).
    pub excellent_min_volume: u64,
    /// Position size in contracts; OI must then be ≥ 1×/2×/5× it for WARNING/GOOD/EXCELLENT.
    pub position_size: Option<u64>,
}

impl Default for LiquidityConfig {
    fn default() -> Self {
        LiquidityConfig {
            reject_min_oi: 100,
            reject_max_spread_pct: 15.0,
            reject_min_volume: 10,
            good_min_oi: 500,
            good_max_spread_pct: 12.0,
            good_min_volume: 100,
            excellent_min_oi: 1000,
            excellent_max_spread_pct: 8.0,
            excellent_min_volume: 500,
            position_size: None,
        }
    }
}

/// Skew bias thresholds on Mixon's measure `(σ25P − σ25C)/σATM` (spec §5): BEARISH at or above
/// `bearish_above`, BULLISH at or below `bullish_below`, else NEUTRAL. Normalised by the ATM vol
/// so that one rule fits a 20 % utility and a 150 % small cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SkewConfig {
    /// At or above: steep put skew → bearish (default 0.15).
    pub bearish_above: f64,
    /// At or below: call skew → bullish (default −0.02).
    pub bullish_below: f64,
    /// Call skew (Mixon below 0: calls richer than puts) at which the skew component scores 0
    /// (default 0.40, i.e. Mixon −0.40). Put skew is not punished: rich puts are what a premium
    /// seller sells.
    pub score_zero_at: f64,
}

impl Default for SkewConfig {
    fn default() -> Self {
        SkewConfig {
            bearish_above: 0.15,
            bullish_below: -0.02,
            score_zero_at: 0.40,
        }
    }
}

/// Composite-score settings (spec §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    /// Weight of the VRP component (0.55).
    pub weight_vrp: f64,
    /// Weight of the liquidity component (0.25).
    pub weight_liquidity: f64,
    /// Weight of the consistency component (0.10).
    pub weight_consistency: f64,
    /// Weight of the skew component (0.10).
    pub weight_skew: f64,
    /// Composite needed to be tradeable (60).
    pub min_score: f64,
    /// VRP component at the EXCELLENT ratio (default 90); the curve passes 50 at MARGINAL and
    /// never reaches 100 (see [`crate::score::vrp_score`]).
    pub vrp_at_excellent: f64,
    /// Deprecated and ignored: the VRP component no longer has a zero point (it is a smooth,
    /// strictly increasing curve). Accepted so that older configuration files still load.
    #[serde(default, skip_serializing)]
    pub vrp_zero_at: Option<f64>,
    /// MAD/median at or below which consistency scores 100 (0.25).
    pub consistency_best: f64,
    /// MAD/median at or above which consistency scores 0 (1.5).
    pub consistency_worst: f64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            weight_vrp: 0.55,
            weight_liquidity: 0.25,
            weight_consistency: 0.10,
            weight_skew: 0.10,
            min_score: 60.0,
            vrp_at_excellent: 90.0,
            vrp_zero_at: None,
            consistency_best: 0.25,
            consistency_worst: 1.5,
        }
    }
}

/// How the long wings of condors and credit verticals are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WingRule {
    /// `wing_implied_moves` × the implied move (in price) beyond the short strike (default),
    /// narrowed while the condor's credit/width is below `min_credit_to_width` or one
    /// contract's max loss is above the risk budget.
    #[default]
    ImpliedMove,
    /// The strike nearest `long_delta`.
    Delta,
}

/// Strategy construction, costs, ranking and sizing (spec §8).
///
/// Sizing: the risk budget is `account_size × risk_per_trade`; one contract risks its max loss
/// (defined risk) or its Reg-T margin (undefined risk), and the size is
/// `floor(budget / risk per contract)`, capped at `max_open_interest_share` of the thinnest
/// leg's open interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategyConfig {
    /// |Δ| of the short legs of condors and verticals (0.25).
    pub short_delta: f64,
    /// |Δ| of the long wings with `wing_rule = "delta"` (0.10).
    pub long_delta: f64,
    /// Fixed wing width in price units (overrides `wing_rule`).
    pub wing_width: Option<f64>,
    /// How wings are placed (default `implied_move`).
    pub wing_rule: WingRule,
    /// Wing width in implied moves beyond the short strike with `wing_rule = "implied_move"` (1.0).
    pub wing_implied_moves: f64,
    /// The condor's credit (mid) per unit of width it aims at: the wings are narrowed, one strike
    /// at a time on the wider side, while the credit/width is below it (0.25).
    pub min_credit_to_width: f64,
    /// Contract multiplier (100).
    pub multiplier: f64,
    /// The exit that `expected_pnl` and `pop_empirical` price (default `close_after_reaction`;
    /// both are in `exits`).
    pub exit: crate::exit::ExitKind,
    /// Slippage: the fraction of each leg's bid–ask spread given up from mid per trade (0.25;
    /// 0.5 = filled at the natural price).
    pub slippage: f64,
    /// Fees per option contract per trade, in currency (0.65).
    pub fee_per_contract: f64,
    /// Account size in currency for sizing (100,000).
    pub account_size: f64,
    /// Share of the account risked per trade (0.02).
    pub risk_per_trade: f64,
    /// At most this share of the thinnest leg's open interest (0.10).
    pub max_open_interest_share: f64,
    /// Undefined-risk strategies (naked short calls) are chosen only with at least this
    /// liquidity (default GOOD): where liquidity is thin a defined-risk structure is preferred.
    pub naked_min_liquidity: crate::liquidity::LiquidityTier,
    /// Ranking weight of a GOOD-liquidity strategy's return on risk (EXCELLENT 1; 0.9).
    pub rank_weight_good: f64,
    /// Ranking weight of a WARNING-liquidity strategy's return on risk (0.6).
    pub rank_weight_warning: f64,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            short_delta: 0.25,
            long_delta: 0.10,
            wing_width: None,
            wing_rule: WingRule::ImpliedMove,
            wing_implied_moves: 1.0,
            min_credit_to_width: 0.25,
            multiplier: 100.0,
            exit: crate::exit::ExitKind::CloseAfterReaction,
            slippage: 0.25,
            fee_per_contract: 0.65,
            account_size: 100_000.0,
            risk_per_trade: 0.02,
            max_open_interest_share: 0.10,
            naked_min_liquidity: crate::liquidity::LiquidityTier::Good,
            rank_weight_good: 0.9,
            rank_weight_warning: 0.6,
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid analytics configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    /// One message per problem, each naming the setting.
    pub problems: Vec<String>,
}

impl AnalyticsConfig {
    /// Checks every setting and reports all problems at once.
    ///
    /// # Errors
    /// [`ConfigError`] listing each problem with the setting's name.
    ///
    /// # Example
    /// ```
    /// use ivcrush_core::AnalyticsConfig;
    /// assert!(AnalyticsConfig::default().validate().is_ok());
    /// let mut cfg = AnalyticsConfig::default();
    /// cfg.vrp.good = 3.0; // above excellent
    /// cfg.moves.lookback = 0;
    /// let err = cfg.validate().unwrap_err();
    /// assert_eq!(err.problems.len(), 3, "{err}"); // tiers unordered, lookback 0, min_reports > lookback
    /// assert!(err.to_string().starts_with("invalid analytics configuration: "));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Vec::new();
        let finite_pos = |p: &mut Vec<String>, name: &str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!("{name} must be a finite number > 0 (got {v})"));
            }
        };
        let v = &self.vrp;
        finite_pos(&mut p, "vrp.marginal", v.marginal);
        finite_pos(&mut p, "vrp.good", v.good);
        finite_pos(&mut p, "vrp.excellent", v.excellent);
        if !(v.marginal < v.good && v.good < v.excellent) {
            p.push(format!(
                "vrp tiers must be ordered marginal < good < excellent (got {} / {} / {})",
                v.marginal, v.good, v.excellent
            ));
        }
        if !(v.confidence_level > 0.0 && v.confidence_level < 1.0) {
            p.push(format!(
                "vrp.confidence_level must be between 0 and 1, exclusive (got {})",
                v.confidence_level
            ));
        }
        p.extend(self.gates.problems());
        let m = &self.moves;
        if m.lookback == 0 {
            p.push("moves.lookback must be >= 1".into());
        }
        if m.min_reports < 2 || m.min_reports > m.lookback {
            p.push(format!(
                "moves.min_reports must be between 2 and moves.lookback ({}) (got {})",
                m.lookback, m.min_reports
            ));
        }
        finite_pos(&mut p, "moves.ewma_half_life", m.ewma_half_life);
        let l = &self.liquidity;
        if !(l.reject_min_oi <= l.good_min_oi && l.good_min_oi <= l.excellent_min_oi) {
            p.push(
                "liquidity open-interest tiers must be ordered reject <= good <= excellent".into(),
            );
        }
        if !(l.reject_min_volume <= l.good_min_volume
            && l.good_min_volume <= l.excellent_min_volume)
        {
            p.push("liquidity volume tiers must be ordered reject <= good <= excellent".into());
        }
        finite_pos(
            &mut p,
            "liquidity.excellent_max_spread_pct",
            l.excellent_max_spread_pct,
        );
        if !(l.excellent_max_spread_pct <= l.good_max_spread_pct
            && l.good_max_spread_pct <= l.reject_max_spread_pct)
        {
            p.push("liquidity spread tiers must be ordered excellent <= good <= reject".into());
        }
        if l.position_size == Some(0) {
            p.push("liquidity.position_size must be >= 1 when set".into());
        }
        let s = &self.skew;
        if !(s.bullish_below < s.bearish_above) {
            p.push("skew.bullish_below must be below skew.bearish_above".into());
        }
        finite_pos(&mut p, "skew.score_zero_at", s.score_zero_at);
        let sc = &self.score;
        let weights = [
            ("score.weight_vrp", sc.weight_vrp),
            ("score.weight_liquidity", sc.weight_liquidity),
            ("score.weight_consistency", sc.weight_consistency),
            ("score.weight_skew", sc.weight_skew),
        ];
        for (name, w) in weights {
            if !(w.is_finite() && w >= 0.0) {
                p.push(format!("{name} must be a finite number >= 0 (got {w})"));
            }
        }
        let sum: f64 = weights.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > 1e-9 {
            p.push(format!("score weights must sum to 1 (got {sum})"));
        }
        if !(sc.min_score.is_finite() && (0.0..=100.0).contains(&sc.min_score)) {
            p.push(format!(
                "score.min_score must be within 0..=100 (got {})",
                sc.min_score
            ));
        }
        if !(sc.vrp_at_excellent.is_finite()
            && sc.vrp_at_excellent > 50.0
            && sc.vrp_at_excellent < 100.0)
        {
            p.push(format!(
                "score.vrp_at_excellent must be in (50, 100) (got {})",
                sc.vrp_at_excellent
            ));
        }
        if !(v.non_event_share_warning.is_finite()
            && (0.0..=1.0).contains(&v.non_event_share_warning))
        {
            p.push(format!(
                "vrp.non_event_share_warning must be within 0..=1 (got {})",
                v.non_event_share_warning
            ));
        }
        let t = &self.term;
        if t.window_days == 0 {
            p.push("term.window_days must be >= 1".into());
        }
        if !(t.min_pre_event_sessions.is_finite() && t.min_pre_event_sessions >= 0.0) {
            p.push(format!(
                "term.min_pre_event_sessions must be a finite number >= 0 (got {})",
                t.min_pre_event_sessions
            ));
        }
        p.extend(self.forward.problems());
        if !(sc.consistency_best >= 0.0 && sc.consistency_best < sc.consistency_worst) {
            p.push("score.consistency_best must be >= 0 and below score.consistency_worst".into());
        }
        let st = &self.strategy;
        if !(st.short_delta > 0.0 && st.short_delta < 0.5) {
            p.push(format!(
                "strategy.short_delta must be in (0, 0.5) (got {})",
                st.short_delta
            ));
        }
        if !(st.long_delta > 0.0 && st.long_delta < st.short_delta) {
            p.push("strategy.long_delta must be in (0, strategy.short_delta)".into());
        }
        if let Some(w) = st.wing_width {
            finite_pos(&mut p, "strategy.wing_width", w);
        }
        finite_pos(&mut p, "strategy.multiplier", st.multiplier);
        finite_pos(&mut p, "strategy.wing_implied_moves", st.wing_implied_moves);
        finite_pos(&mut p, "strategy.account_size", st.account_size);
        for (name, v) in [
            ("strategy.min_credit_to_width", st.min_credit_to_width),
            ("strategy.slippage", st.slippage),
            ("strategy.risk_per_trade", st.risk_per_trade),
            (
                "strategy.max_open_interest_share",
                st.max_open_interest_share,
            ),
            ("strategy.rank_weight_good", st.rank_weight_good),
            ("strategy.rank_weight_warning", st.rank_weight_warning),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                p.push(format!("{name} must be within 0..=1 (got {v})"));
            }
        }
        if !(st.risk_per_trade > 0.0 && st.max_open_interest_share > 0.0) {
            p.push(
                "strategy.risk_per_trade and strategy.max_open_interest_share must be > 0".into(),
            );
        }
        if !(st.fee_per_contract.is_finite() && st.fee_per_contract >= 0.0) {
            p.push(format!(
                "strategy.fee_per_contract must be a finite number >= 0 (got {})",
                st.fee_per_contract
            ));
        }
        if st.naked_min_liquidity == crate::liquidity::LiquidityTier::Reject {
            p.push("strategy.naked_min_liquidity must be WARNING, GOOD or EXCELLENT".into());
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems: p })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        AnalyticsConfig::default()
            .validate()
            .expect("defaults valid");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut c = AnalyticsConfig::default();
        c.score.weight_vrp = 0.9;
        c.vrp.good = 3.0;
        c.liquidity.position_size = Some(0);
        let e = c.validate().expect_err("invalid");
        assert_eq!(e.problems.len(), 3, "{e}");
        assert!(e.to_string().contains("sum to 1"));
        assert!(e.to_string().contains("vrp tiers"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<AnalyticsConfig, _> = serde_json::from_str(r#"{"vrp": {"excelent": 2.0}}"#);
        assert!(r.is_err());
    }
}
