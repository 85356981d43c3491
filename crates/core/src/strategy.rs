//! Concrete short-premium strategies on the event expiry (spec §8), chosen and sized as a desk
//! would: legs with bid, ask and mid; credits at mid, at natural and after slippage and fees;
//! max loss (unbounded stated as such) and the bounded downside of short puts; breakevens;
//! probability of profit and expected P&L priced to a real exit ([`crate::exit`]); a Reg-T-style
//! margin, net greeks and dollars per contract; a size from the account's risk budget; and a
//! ranking by risk-adjusted return with liquidity taken into account.
//!
//! Every strategy is a sum of vanilla legs, so its P&L at expiry is piecewise linear in the
//! underlying with kinks at the strikes. Max loss, breakevens and profit intervals are read off
//! that function exactly (one generic path for every strategy), never from per-strategy formulas
//! that an older system got wrong for condors.
//!
//! **Strikes.** Straddle at the ATM strike; strangle at the strikes nearest ±1 implied move;
//! condor and credit verticals sell ≈`short_delta` (25Δ) and buy wings `wing_implied_moves`
//! implied moves further out (or at `long_delta`, or a fixed `wing_width`), the condor's wings
//! narrowed while its credit/width is below `min_credit_to_width` or one contract's max loss is
//! above the risk budget. No leg is a quote whose own liquidity is REJECT.
//!
//! **Margin** ([`reg_t_margin`], per share; × multiplier per contract), after the Reg-T / FINRA
//! 4210 rules for equity options:
//! - defined risk (every spread and condor): the max loss, i.e. the widest wing − net credit;
//! - a naked short call: premium + max(20 % × S − OTM amount, 10 % × S); a naked short put:
//!   premium + max(20 % × S − OTM amount, 10 % × K);
//! - a short straddle or strangle: the greater side's requirement + the other side's premium.
//!
//! **Sizing.** Risk budget = account × risk per trade; one contract risks its max loss (defined
//! risk) or its margin (undefined risk): contracts = floor(budget / risk per contract), capped at
//! a share of the thinnest leg's open interest.
//!
//! **Ranking.** Return on risk = expected P&L per contract (shown exit, net of slippage and
//! fees) / risk per contract, weighted by the strategy's liquidity tier. A strategy is eligible
//! when it is expected to earn after costs, at least one contract fits the risk budget, and —
//! for undefined risk — its liquidity is at least `naked_min_liquidity`. The best eligible one is
//! `rank` 1 and `recommended` ([`best`]).

use crate::calendar::CALENDAR_DAYS_PER_YEAR;
use crate::config::{LiquidityConfig, StrategyConfig, WingRule};
use crate::exit::{Costs, ExitEngine, ExitKind, ExitModel, ExitPnl};
use crate::liquidity::{LiquidityTier, option_liquidity};
use crate::pricing::{OptionParams, bsm_delta, norm_cdf, norm_pdf};
use crate::skew::Bias;
use crate::smile::{ExpiryMarket, SmilePoint};
use crate::types::{OptionChain, OptionKind, OptionQuote};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Long or short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Bought.
    Long,
    /// Sold.
    Short,
}

/// One option leg.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    /// Call or put.
    #[serde(rename = "type")]
    pub kind: OptionKind,
    /// Strike.
    pub strike: f64,
    /// Long or short.
    pub side: Side,
    /// Contracts per unit of the strategy.
    pub quantity: u32,
    /// Mid price per share.
    pub mid: f64,
}

impl AsRef<Leg> for Leg {
    fn as_ref(&self) -> &Leg {
        self
    }
}

impl Leg {
    fn sign(&self) -> f64 {
        match self.side {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }
    fn payoff(&self, s: f64) -> f64 {
        let intrinsic = match self.kind {
            OptionKind::Call => (s - self.strike).max(0.0),
            OptionKind::Put => (self.strike - s).max(0.0),
        };
        self.sign() * f64::from(self.quantity) * intrinsic
    }
}

/// A leg as traded: the [`Leg`] (its fields appear at the top level of the JSON object) with
/// the quote's bid and ask, its own liquidity, the smile IV and the Black–Scholes delta.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StrategyLeg {
    /// Kind, strike, side, quantity, mid.
    #[serde(flatten)]
    pub leg: Leg,
    /// Bid per share.
    #[serde(default)]
    pub bid: f64,
    /// Ask per share.
    #[serde(default)]
    pub ask: f64,
    /// This option's own liquidity tier (never REJECT in a built strategy).
    #[serde(default)]
    pub liquidity: Option<LiquidityTier>,
    /// Open interest of the contract.
    #[serde(default)]
    pub open_interest: u64,
    /// Implied vol at the strike (the expiry's OTM smile).
    #[serde(default)]
    pub iv: Option<f64>,
    /// Delta of one option (per share, the option's own sign; not multiplied by the side).
    #[serde(default)]
    pub delta: Option<f64>,
}

impl std::ops::Deref for StrategyLeg {
    type Target = Leg;
    fn deref(&self) -> &Leg {
        &self.leg
    }
}

impl AsRef<Leg> for StrategyLeg {
    fn as_ref(&self) -> &Leg {
        &self.leg
    }
}

impl StrategyLeg {
    /// The price this leg trades at giving up `slippage` of its spread from mid (sells lower,
    /// buys higher).
    fn fill(&self, slippage: f64) -> f64 {
        let spread = (self.ask - self.bid).max(0.0);
        match self.side {
            Side::Short => self.mid - slippage * spread,
            Side::Long => self.mid + slippage * spread,
        }
    }
}

/// Which strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Short ATM call and put.
    ShortStraddle,
    /// Short OTM call and put near the implied-move boundaries.
    ShortStrangle,
    /// Short ≈25Δ strangle with long wings.
    IronCondor,
    /// Short put, long lower put (credit).
    BullPutSpread,
    /// Short call, long higher call (credit).
    BearCallSpread,
}

impl StrategyKind {
    /// `short_straddle`, `iron_condor`, …
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::ShortStraddle => "short_straddle",
            StrategyKind::ShortStrangle => "short_strangle",
            StrategyKind::IronCondor => "iron_condor",
            StrategyKind::BullPutSpread => "bull_put_spread",
            StrategyKind::BearCallSpread => "bear_call_spread",
        }
    }
}

/// Worst loss at expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxLoss {
    /// Bounded: the loss per share (≥ 0).
    Bounded(f64),
    /// Unbounded (a naked short call); never reported as a number.
    Unbounded,
}

/// Both exits of a strategy and the model they were priced with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exits {
    /// (a) Bought back at the reaction close at the post-event IV.
    pub close_after_reaction: ExitPnl,
    /// (b) Held to expiry through the remaining diffusion.
    pub hold_to_expiry: ExitPnl,
    /// The clock and vols used.
    pub model: ExitModel,
}

impl Exits {
    /// The P&L of one exit.
    pub fn get(&self, exit: ExitKind) -> &ExitPnl {
        match exit {
            ExitKind::CloseAfterReaction => &self.close_after_reaction,
            ExitKind::HoldToExpiry => &self.hold_to_expiry,
        }
    }
}

/// A Reg-T-style margin estimate (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Margin {
    /// Per share.
    pub per_share: f64,
    /// Per contract (× multiplier), in currency.
    pub per_contract: f64,
    /// The rule applied.
    pub rule: String,
}

/// Dollar figures of one contract (one unit of the strategy × the multiplier).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PerContract {
    /// Credit at mid.
    pub credit: f64,
    /// Credit at natural (bid for sells, ask for buys).
    pub credit_natural: f64,
    /// Credit after slippage, before fees.
    pub credit_fill: f64,
    /// Fees to open.
    pub fees: f64,
    /// Max loss (`None`: unbounded).
    pub max_loss: Option<f64>,
    /// Loss if the stock goes to zero (the short puts' bounded downside).
    pub downside_loss: f64,
    /// Margin estimate.
    pub margin: f64,
    /// Expected P&L of the shown exit, net of slippage and fees.
    pub expected_pnl: Option<f64>,
    /// The worst past reaction's P&L under the shown exit.
    pub worst_pnl: Option<f64>,
}

/// Net greeks of one contract: delta in shares, gamma in shares per 1 of the underlying, vega
/// in currency per vol point, theta in currency per calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NetGreeks {
    /// Shares of the underlying equivalent.
    pub delta: f64,
    /// Change of delta (shares) per 1 of the underlying.
    pub gamma: f64,
    /// Currency per vol point.
    pub vega: f64,
    /// Currency per calendar day.
    pub theta: f64,
}

/// What limits the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeLimit {
    /// The risk budget.
    RiskBudget,
    /// The share of open interest.
    OpenInterest,
}

/// The position size from the account's risk budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    /// Account size × risk per trade, in currency.
    pub risk_budget: f64,
    /// What one contract risks: its max loss (defined risk) or its margin (undefined risk).
    pub risk_per_contract: f64,
    /// Whether `risk_per_contract` is the max loss (`true`) or the margin.
    pub defined_risk: bool,
    /// Contracts: floor(budget / risk per contract), capped by open interest.
    pub contracts: u64,
    /// `contracts × risk_per_contract` (never above the budget).
    pub capital_at_risk: f64,
    /// The open-interest cap (share of the thinnest leg's open interest).
    pub open_interest_cap: u64,
    /// What limits the size.
    pub limited_by: SizeLimit,
}

/// One strategy with its risk and reward (per share unless stated; × multiplier per contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// Which strategy.
    pub kind: StrategyKind,
    /// Legs with bid, ask and mid.
    pub legs: Vec<StrategyLeg>,
    /// Net credit per share at mid.
    pub credit: f64,
    /// Net credit per share at natural (bid for sells, ask for buys).
    #[serde(default)]
    pub credit_natural: Option<f64>,
    /// Net credit per share after slippage (`strategy.slippage` of each leg's spread), before
    /// fees.
    #[serde(default)]
    pub credit_fill: Option<f64>,
    /// Max loss per share at expiry (from the mid credit).
    pub max_loss: MaxLoss,
    /// Loss per share if the stock goes to zero: the bounded downside of short puts (put
    /// strike − credit for a straddle); 0 when the strategy gains there.
    #[serde(default)]
    pub downside_loss: Option<f64>,
    /// Underlying prices at expiry where P&L is zero, ascending.
    pub breakevens: Vec<f64>,
    /// P(P&L > 0), lognormal with the event-adjusted variance of the expiry.
    pub pop: f64,
    /// P(net P&L > 0) over the historical earnings moves under the shown `exit`.
    pub pop_empirical: Option<f64>,
    /// 95 % Wilson interval of `pop_empirical` (a dozen draws are not a probability).
    #[serde(default)]
    pub pop_empirical_interval: Option<[f64; 2]>,
    /// The same over the historical moves rescaled to the implied event standard deviation.
    pub pop_empirical_rescaled: Option<f64>,
    /// Mean net P&L per share over the historical moves under the shown `exit` (negative = the
    /// market is right).
    pub expected_pnl: Option<f64>,
    /// The worst past reaction's P&L per share under the shown `exit`.
    #[serde(default)]
    pub worst_pnl: Option<f64>,
    /// The exit `expected_pnl`, `pop_empirical` and `worst_pnl` price.
    #[serde(default)]
    pub exit: Option<ExitKind>,
    /// Both exits in full.
    #[serde(default)]
    pub exits: Option<Exits>,
    /// Reg-T-style margin.
    #[serde(default)]
    pub margin: Option<Margin>,
    /// Dollar figures per contract.
    #[serde(default)]
    pub per_contract: Option<PerContract>,
    /// Net greeks per contract.
    #[serde(default)]
    pub greeks: Option<NetGreeks>,
    /// Size from the risk budget.
    #[serde(default)]
    pub sizing: Option<Sizing>,
    /// Expected P&L per contract / risk per contract.
    #[serde(default)]
    pub return_on_risk: Option<f64>,
    /// `return_on_risk` weighted by liquidity: what the ranking sorts by.
    #[serde(default)]
    pub rank_score: Option<f64>,
    /// 1 = best among the eligible strategies; `None` when not eligible.
    #[serde(default)]
    pub rank: Option<u32>,
    /// The strategy shown as the best (rank 1).
    #[serde(default)]
    pub recommended: bool,
    /// Why it is not eligible (empty when it is).
    #[serde(default)]
    pub not_eligible: Vec<String>,
    /// Contract multiplier used for per-contract figures.
    pub multiplier: f64,
    /// Worst leg's liquidity tier.
    pub liquidity: LiquidityTier,
    /// Caveats (e.g. high POP with negative expectancy).
    pub warnings: Vec<String>,
}

/// The strategy every surface shows as the best: the recommended one (rank 1). For records
/// written before the ranking existed (no margin), the highest positive expected P&L.
pub fn best(strategies: &[Strategy]) -> Option<&Strategy> {
    if strategies.iter().any(|s| s.margin.is_some()) {
        return strategies.iter().find(|s| s.recommended);
    }
    strategies
        .iter()
        .filter(|s| s.expected_pnl.is_some_and(|e| e > 0.0))
        .max_by(|x, y| {
            x.expected_pnl
                .unwrap_or(0.0)
                .total_cmp(&y.expected_pnl.unwrap_or(0.0))
        })
}

/// The piecewise-linear P&L at expiry of a set of legs.
#[derive(Debug, Clone)]
pub struct Payoff {
    legs: Vec<Leg>,
    credit: f64,
    kinks: Vec<f64>,
}

impl Payoff {
    /// From legs (their mids give the credit).
    ///
    /// # Example
    /// ```
    /// use ivcrush_core::OptionKind;
    /// use ivcrush_core::strategy::{Leg, MaxLoss, Payoff, Side};
    /// let leg = |kind, strike, side, mid| Leg { kind, strike, side, quantity: 1, mid };
    /// // A short straddle at 100 for 6.00 of credit.
    /// let straddle = Payoff::new(&[
    ///     leg(OptionKind::Call, 100.0, Side::Short, 3.0),
    ///     leg(OptionKind::Put, 100.0, Side::Short, 3.0),
    /// ]);
    /// assert_eq!(straddle.credit(), 6.0);
    /// assert_eq!(straddle.pnl(100.0), 6.0);
    /// assert_eq!(straddle.pnl(110.0), -4.0);
    /// assert_eq!(straddle.breakevens(), [94.0, 106.0]);
    /// assert_eq!(straddle.max_loss(), MaxLoss::Unbounded);
    /// // An iron condor: short 95/105, long 90/110 wings, 2.00 of credit, 3.00 at most to lose.
    /// let condor = Payoff::new(&[
    ///     leg(OptionKind::Put, 90.0, Side::Long, 0.5),
    ///     leg(OptionKind::Put, 95.0, Side::Short, 1.5),
    ///     leg(OptionKind::Call, 105.0, Side::Short, 1.5),
    ///     leg(OptionKind::Call, 110.0, Side::Long, 0.5),
    /// ]);
    /// assert_eq!(condor.credit(), 2.0);
    /// assert_eq!(condor.max_loss(), MaxLoss::Bounded(3.0));
    /// assert_eq!(condor.profit_intervals(), [(93.0, 107.0)]);
    /// ```
    pub fn new<L: AsRef<Leg>>(legs: &[L]) -> Payoff {
        let credit = legs
            .iter()
            .map(|l| {
                let l = l.as_ref();
                -l.sign() * f64::from(l.quantity) * l.mid
            })
            .sum();
        Payoff::with_credit(legs, credit)
    }

    /// From legs with a given net credit per share (e.g. after costs).
    pub fn with_credit<L: AsRef<Leg>>(legs: &[L], credit: f64) -> Payoff {
        let legs: Vec<Leg> = legs.iter().map(|l| *l.as_ref()).collect();
        let mut kinks: Vec<f64> = legs.iter().map(|l| l.strike).collect();
        kinks.sort_by(f64::total_cmp);
        kinks.dedup();
        Payoff {
            legs,
            credit,
            kinks,
        }
    }

    /// Net credit per share (negative for a debit).
    pub fn credit(&self) -> f64 {
        self.credit
    }

    /// P&L per share at underlying price `s` at expiry.
    pub fn pnl(&self, s: f64) -> f64 {
        self.credit + self.legs.iter().map(|l| l.payoff(s)).sum::<f64>()
    }

    /// Slope of the P&L beyond the highest strike.
    fn right_slope(&self) -> f64 {
        self.legs
            .iter()
            .filter(|l| l.kind == OptionKind::Call)
            .map(|l| l.sign() * f64::from(l.quantity))
            .sum()
    }

    fn nodes(&self) -> Vec<f64> {
        std::iter::once(0.0)
            .chain(self.kinks.iter().copied())
            .collect()
    }

    /// Worst loss at expiry per share.
    pub fn max_loss(&self) -> MaxLoss {
        if self.right_slope() < 0.0 {
            return MaxLoss::Unbounded;
        }
        let worst = self
            .nodes()
            .iter()
            .map(|&s| self.pnl(s))
            .fold(f64::INFINITY, f64::min);
        MaxLoss::Bounded((-worst).max(0.0))
    }

    /// Prices where the P&L crosses zero, ascending.
    pub fn breakevens(&self) -> Vec<f64> {
        let nodes = self.nodes();
        let mut out = Vec::new();
        for w in nodes.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (pa, pb) = (self.pnl(a), self.pnl(b));
            if (pa > 0.0 && pb < 0.0) || (pa < 0.0 && pb > 0.0) {
                out.push(a + (b - a) * pa / (pa - pb));
            } else if pb == 0.0 && pa != 0.0 {
                out.push(b);
            }
        }
        if let Some(&last) = nodes.last() {
            let (p, slope) = (self.pnl(last), self.right_slope());
            if (p > 0.0 && slope < 0.0) || (p < 0.0 && slope > 0.0) {
                out.push(last - p / slope);
            }
        }
        out.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        out
    }

    /// Intervals of underlying prices where the P&L is positive.
    pub fn profit_intervals(&self) -> Vec<(f64, f64)> {
        self.profit_intervals_at(&self.breakevens())
    }

    /// [`Self::profit_intervals`] from breakevens already computed.
    pub(crate) fn profit_intervals_at(&self, breakevens: &[f64]) -> Vec<(f64, f64)> {
        let mut cuts = Vec::with_capacity(breakevens.len() + 2);
        cuts.push(0.0);
        cuts.extend_from_slice(breakevens);
        cuts.push(f64::INFINITY);
        cuts.windows(2)
            .filter_map(|w| {
                let (a, b) = (w[0], w[1]);
                let probe = if b.is_finite() {
                    0.5 * (a + b)
                } else {
                    a + 1.0 + a
                };
                (self.pnl(probe) > 0.0).then_some((a, b))
            })
            .collect()
    }

    /// P(P&L > 0) when `ln S_T ~ N(ln F − w/2, w)` (total variance `w`).
    pub fn pop_lognormal(&self, forward: f64, total_variance: f64) -> f64 {
        Self::pop_lognormal_in(&self.profit_intervals(), forward, total_variance)
    }

    /// [`Self::pop_lognormal`] over profit intervals already computed.
    pub(crate) fn pop_lognormal_in(
        intervals: &[(f64, f64)],
        forward: f64,
        total_variance: f64,
    ) -> f64 {
        let sd = total_variance.max(0.0).sqrt();
        let cdf = |x: f64| {
            if x <= 0.0 {
                0.0
            } else if x.is_infinite() {
                1.0
            } else if sd == 0.0 {
                if x > forward { 1.0 } else { 0.0 }
            } else {
                norm_cdf(((x / forward).ln() + 0.5 * sd * sd) / sd)
            }
        };
        intervals
            .iter()
            .map(|&(a, b)| cdf(b) - cdf(a))
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// Share of scenarios `S_T = spot·(1 + m)` with positive P&L, and their mean P&L (the
    /// expiry payoff with every other session motionless; [`crate::exit`] prices real exits).
    pub fn empirical(&self, spot: f64, moves: &[f64]) -> Option<(f64, f64)> {
        if moves.is_empty() {
            return None;
        }
        let n = moves.len() as f64;
        let (mut wins, mut sum) = (0usize, 0.0);
        for m in moves {
            let p = self.pnl(spot * (1.0 + m).max(0.0));
            if p > 0.0 {
                wins += 1;
            }
            sum += p;
        }
        Some((wins as f64 / n, sum / n))
    }
}

/// Reg-T-style margin per share of `legs` on an underlying at `spot` (see the module docs):
/// the max loss for defined risk; for naked short options premium + max(20 % × S − OTM amount,
/// 10 % × S for calls or × K for puts), and for short calls with short puts the greater side's
/// requirement plus the other side's premium. Returns the figure and the rule applied.
///
/// # Example
/// ```
/// use ivcrush_core::OptionKind;
/// use ivcrush_core::strategy::{Leg, MaxLoss, Side, reg_t_margin};
/// let short_put = [Leg { kind: OptionKind::Put, strike: 95.0, side: Side::Short, quantity: 1, mid: 2.0 }];
/// // Premium 2 + max(20 % × 100 − 5 OTM, 10 % × 95) = 2 + 15.
/// let (margin, _rule) = reg_t_margin(&short_put, 100.0, MaxLoss::Bounded(93.0));
/// assert_eq!(margin, 93.0, "a bounded loss is its own margin");
/// let (margin, rule) = reg_t_margin(&short_put, 100.0, MaxLoss::Unbounded);
/// assert_eq!(margin, 17.0);
/// assert!(rule.starts_with("Reg-T naked short option"));
/// ```
pub fn reg_t_margin<L: AsRef<Leg>>(
    legs: &[L],
    spot: f64,
    max_loss: MaxLoss,
) -> (f64, &'static str) {
    if let MaxLoss::Bounded(l) = max_loss {
        return (
            l.max(0.0),
            "defined risk: the max loss (widest wing width − net credit)",
        );
    }
    // Undefined risk: every short leg is naked (our unbounded strategies have no long legs).
    let (mut calls, mut puts, mut premium) = (0.0, 0.0, 0.0);
    for l in legs.iter().map(AsRef::as_ref) {
        if l.side != Side::Short {
            continue;
        }
        let q = f64::from(l.quantity);
        premium += q * l.mid;
        match l.kind {
            OptionKind::Call => {
                let otm = (l.strike - spot).max(0.0);
                calls += q * (0.2 * spot - otm).max(0.1 * spot);
            }
            OptionKind::Put => {
                let otm = (spot - l.strike).max(0.0);
                puts += q * (0.2 * spot - otm).max(0.1 * l.strike);
            }
        }
    }
    let per_share = premium + f64::max(calls, puts);
    let rule = if calls > 0.0 && puts > 0.0 {
        "Reg-T naked short straddle/strangle: the greater side's max(20 % × S − OTM, 10 % × S or K) + both premiums"
    } else {
        "Reg-T naked short option: premium + max(20 % × S − OTM, 10 % × S for calls, × K for puts)"
    };
    (per_share, rule)
}

/// Contracts for a risk budget: floor(budget / risk per contract), capped at `oi_cap`; a
/// non-positive risk per contract (a riskless credit) is capped by open interest alone.
///
/// # Example
/// ```
/// use ivcrush_core::strategy::contracts_for;
/// // $1,000 of risk at $300 a contract: three contracts, unless open interest caps it first.
/// assert_eq!(contracts_for(1_000.0, 300.0, 1_000).0, 3);
/// assert_eq!(contracts_for(1_000.0, 300.0, 2).0, 2);
/// assert_eq!(contracts_for(100.0, 300.0, 1_000).0, 0);
/// ```
pub fn contracts_for(risk_budget: f64, risk_per_contract: f64, oi_cap: u64) -> (u64, SizeLimit) {
    let by_budget = if risk_per_contract > 0.0 {
        let n = (risk_budget / risk_per_contract).floor();
        if n.is_finite() && n > 0.0 {
            // Guard against floor rounding up past the budget in the last bit.
            let mut n = n.min(u64::MAX as f64) as u64;
            while n > 0 && n as f64 * risk_per_contract > risk_budget {
                n -= 1;
            }
            n
        } else {
            0
        }
    } else {
        u64::MAX
    };
    if oi_cap < by_budget {
        (oi_cap, SizeLimit::OpenInterest)
    } else {
        (by_budget, SizeLimit::RiskBudget)
    }
}

/// Everything the builders need about the event expiry.
#[derive(Debug, Clone)]
pub struct StrategyContext<'a> {
    /// The event expiry's chain.
    pub chain: &'a OptionChain,
    /// Spot, time, rates of that expiry.
    pub market: ExpiryMarket,
    /// Its OTM smile (for strike deltas).
    pub smile: &'a [SmilePoint],
    /// ATM strike of the straddle.
    pub atm_strike: f64,
    /// Implied move as a fraction of spot (e.g. 0.05).
    pub implied_move: f64,
    /// Total variance to expiry `σ_ATM²·T` (event included).
    pub total_variance: f64,
    /// Implied event standard deviation (fraction), for rescaling history.
    pub event_std: Option<f64>,
    /// Historical signed earnings moves as fractions, oldest first.
    pub historical_moves: &'a [f64],
    /// Skew bias (credit verticals lean against it).
    pub bias: Bias,
    /// The as-of instant (the trade is entered then).
    pub as_of: DateTime<Utc>,
    /// The reaction session (exit (a) closes at its close).
    pub reaction: NaiveDate,
    /// The expiry's ATM IV (fallback for the post-event IV).
    pub atm_iv: Option<f64>,
    /// The event variance `E` of the term-structure fit.
    pub event_variance: Option<f64>,
    /// The fit's diffusion (ex-event) vol, trading-day annualised (`forecast.diffusion_vol`).
    pub diffusion_vol: Option<f64>,
}

/// An OTM quote with its smile IV.
#[derive(Debug, Clone, Copy)]
struct Cand<'a> {
    q: &'a OptionQuote,
    iv: f64,
}

fn smile_iv(smile: &[SmilePoint], strike: f64) -> Option<f64> {
    smile
        .binary_search_by(|p| p.strike.total_cmp(&strike))
        .ok()
        .map(|i| smile[i].iv)
}

/// |Δ| of a candidate from the smile vol at its strike.
fn abs_delta(ctx: &StrategyContext<'_>, c: &Cand<'_>) -> f64 {
    let m = &ctx.market;
    OptionParams::new(c.q.kind, m.spot, c.q.strike, m.t, m.rate, m.div)
        .map_or(f64::NAN, |p| bsm_delta(&p, c.iv).abs())
}

/// Valid OTM quotes of one kind with a smile vol at their strike, ascending by strike.
fn otm_cands<'a>(ctx: &StrategyContext<'a>, kind: OptionKind) -> Vec<Cand<'a>> {
    let f = ctx.market.forward();
    let mut v: Vec<Cand<'a>> = ctx
        .chain
        .quotes
        .iter()
        .filter(|q| q.kind == kind && q.is_valid())
        .filter(|q| match kind {
            OptionKind::Call => q.strike > f,
            OptionKind::Put => q.strike < f,
        })
        .filter_map(|q| {
            Some(Cand {
                q,
                iv: smile_iv(ctx.smile, q.strike)?,
            })
        })
        .collect();
    v.sort_by(|a, b| a.q.strike.total_cmp(&b.q.strike));
    v
}

/// The tradeable candidate whose |Δ| is nearest `target`, in a slice along which |Δ| is
/// monotone (`decreasing` or increasing): a binary search, then outward from the bracket, so
/// that only a few deltas are computed.
fn pick_delta<'a>(
    ctx: &StrategyContext<'_>,
    cands: &[Cand<'a>],
    decreasing: bool,
    target: f64,
    liq: &Tiers<'_>,
) -> Option<Cand<'a>> {
    let i = cands.partition_point(|c| {
        let d = abs_delta(ctx, c);
        if decreasing { d > target } else { d < target }
    });
    let dist = |j: usize| (abs_delta(ctx, &cands[j]) - target).abs();
    let (mut lo, mut hi) = (i.checked_sub(1), (i < cands.len()).then_some(i));
    let (mut dlo, mut dhi) = (lo.map(dist), hi.map(dist));
    loop {
        let take_lo = match (dlo, dhi) {
            (Some(a), Some(b)) => a <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_lo {
            let j = lo?;
            if liq.ok(cands[j].q) {
                return Some(cands[j]);
            }
            lo = j.checked_sub(1);
            dlo = lo.map(dist);
        } else {
            let j = hi?;
            if liq.ok(cands[j].q) {
                return Some(cands[j]);
            }
            hi = (j + 1 < cands.len()).then_some(j + 1);
            dhi = hi.map(dist);
        }
    }
}

/// Liquidity tiers of the quotes looked at, each computed once per analysis.
struct Tiers<'a> {
    cfg: &'a LiquidityConfig,
    seen: std::cell::RefCell<Vec<(*const OptionQuote, LiquidityTier)>>,
}

impl<'a> Tiers<'a> {
    fn new(cfg: &'a LiquidityConfig) -> Tiers<'a> {
        Tiers {
            cfg,
            seen: std::cell::RefCell::new(Vec::with_capacity(16)),
        }
    }
    fn of(&self, q: &OptionQuote) -> LiquidityTier {
        let key: *const OptionQuote = q;
        if let Some((_, t)) = self.seen.borrow().iter().find(|(k, _)| *k == key) {
            return *t;
        }
        let t = option_liquidity(q, self.cfg).tier;
        self.seen.borrow_mut().push((key, t));
        t
    }
    fn ok(&self, q: &OptionQuote) -> bool {
        q.is_valid() && self.of(q) != LiquidityTier::Reject
    }
}

/// The non-REJECT candidate minimising `key`.
fn pick<'a>(
    cands: &[Cand<'a>],
    liq: &Tiers<'_>,
    key: impl Fn(&Cand<'a>) -> f64,
) -> Option<Cand<'a>> {
    let mut keyed: Vec<(f64, usize)> = cands.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed
        .into_iter()
        .map(|(_, i)| cands[i])
        .find(|c| liq.ok(c.q))
}

/// One side of a condor: the short strike and the wings beyond it (nearest first), each
/// checked for REJECT liquidity only when considered.
struct WingSide<'a> {
    short: Cand<'a>,
    wings: Vec<Cand<'a>>,
    at: usize,
}

impl<'a> WingSide<'a> {
    fn wing(&self) -> Cand<'a> {
        self.wings[self.at]
    }
    fn width(&self) -> f64 {
        (self.wing().q.strike - self.short.q.strike).abs()
    }
    fn credit(&self) -> f64 {
        self.short.q.mid() - self.wing().q.mid()
    }
}

/// Short leg at ≈`short_delta` and a further-OTM long wing placed by the wing rule (the
/// tradeable wing nearest the rule's target).
fn side<'a>(
    ctx: &StrategyContext<'a>,
    cands: &[Cand<'a>],
    kind: OptionKind,
    cfg: &StrategyConfig,
    liq: &Tiers<'_>,
) -> Option<WingSide<'a>> {
    // |Δ| falls with the strike for OTM calls and rises with it for OTM puts.
    let short = pick_delta(ctx, cands, kind == OptionKind::Call, cfg.short_delta, liq)?;
    let mut wings: Vec<Cand<'a>> = cands
        .iter()
        .copied()
        .filter(|c| match kind {
            OptionKind::Call => c.q.strike > short.q.strike,
            OptionKind::Put => c.q.strike < short.q.strike,
        })
        .collect();
    if kind == OptionKind::Put {
        wings.reverse();
    }
    let target = match (cfg.wing_width, cfg.wing_rule) {
        (Some(w), _) => Some(w),
        (None, WingRule::ImpliedMove) => {
            Some(cfg.wing_implied_moves * ctx.implied_move.max(0.0) * ctx.market.spot)
        }
        (None, WingRule::Delta) => None,
    };
    // Wings run outward from the short strike: |Δ| falls along them.
    let chosen = match target {
        Some(w) => pick(&wings, liq, |c| {
            ((c.q.strike - short.q.strike).abs() - w).abs()
        })?,
        None => pick_delta(ctx, &wings, true, cfg.long_delta, liq)?,
    };
    // Only tradeable wings from the nearest out to the chosen one remain (the narrowing steps
    // inward through them).
    let last = wings.iter().position(|c| c.q.strike == chosen.q.strike)?;
    wings.truncate(last + 1);
    wings.retain(|c| c.q.strike == chosen.q.strike || liq.ok(c.q));
    let at = wings.len() - 1;
    Some(WingSide { short, wings, at })
}

/// Narrows the wider wing of a condor, one strike at a time, while the condor's credit/width
/// is below `min` or one contract's max loss (widest wing − credit, × `multiplier`) is above
/// the risk `budget` (the implied-move wing rule only: a fixed `wing_width` or the delta rule is
/// left alone).
fn narrow_wings<'a>(
    put: &mut WingSide<'a>,
    call: &mut WingSide<'a>,
    min: f64,
    budget: f64,
    multiplier: f64,
) {
    loop {
        let width = put.width().max(call.width());
        let credit = put.credit() + call.credit();
        if !(width > 0.0) || (credit / width >= min && (width - credit) * multiplier <= budget) {
            return;
        }
        let wider = if put.width() >= call.width() {
            &mut *put
        } else {
            &mut *call
        };
        if wider.at == 0 {
            return;
        }
        wider.at -= 1;
    }
}

fn strategy_leg(
    c: &OptionQuote,
    side: Side,
    iv: Option<f64>,
    ctx: &StrategyContext<'_>,
    liq: &Tiers<'_>,
) -> StrategyLeg {
    let m = &ctx.market;
    let delta = iv.and_then(|v| {
        let p = OptionParams::new(c.kind, m.spot, c.strike, m.t, m.rate, m.div).ok()?;
        Some(bsm_delta(&p, v))
    });
    StrategyLeg {
        leg: Leg {
            kind: c.kind,
            strike: c.strike,
            side,
            quantity: 1,
            mid: c.mid(),
        },
        bid: c.bid,
        ask: c.ask,
        liquidity: Some(liq.of(c)),
        open_interest: c.open_interest,
        iv,
        delta,
    }
}

/// What every strategy of one analysis shares.
struct Shared {
    model: Option<ExitModel>,
    rescaled: Option<Vec<f64>>,
}

fn net_greeks(legs: &[StrategyLeg], ctx: &StrategyContext<'_>, mult: f64) -> Option<NetGreeks> {
    let m = &ctx.market;
    let mut g = NetGreeks {
        delta: 0.0,
        gamma: 0.0,
        vega: 0.0,
        theta: 0.0,
    };
    if !(m.t > 0.0 && m.spot > 0.0) {
        return None;
    }
    let (s, t, r, q) = (m.spot, m.t, m.rate, m.div);
    let (sqrt_t, df_r, df_q) = (t.sqrt(), (-r * t).exp(), (-q * t).exp());
    let f = s * ((r - q) * t).exp();
    for l in legs {
        let iv = l.iv.or(ctx.atm_iv).filter(|v| *v > 0.0)?;
        // Black–Scholes–Merton greeks without the price (the units of `bsm_greeks`).
        let sd = iv * sqrt_t;
        let d1 = (f / l.strike).ln() / sd + 0.5 * sd;
        let d2 = d1 - sd;
        let pdf = norm_pdf(d1);
        let decay = -s * df_q * pdf * iv / (2.0 * sqrt_t);
        let (delta, theta) = match l.kind {
            OptionKind::Call => {
                let n1 = norm_cdf(d1);
                (
                    df_q * n1,
                    decay - r * l.strike * df_r * norm_cdf(d2) + q * s * df_q * n1,
                )
            }
            OptionKind::Put => {
                let n1 = norm_cdf(-d1);
                (
                    -df_q * n1,
                    decay + r * l.strike * df_r * norm_cdf(-d2) - q * s * df_q * n1,
                )
            }
        };
        let w = l.sign() * f64::from(l.quantity) * mult;
        g.delta += w * delta;
        g.gamma += w * df_q * pdf / (s * sd);
        g.vega += w * s * df_q * pdf * sqrt_t / 100.0;
        g.theta += w * theta / CALENDAR_DAYS_PER_YEAR;
    }
    Some(g)
}

fn finish(
    kind: StrategyKind,
    legs: Vec<StrategyLeg>,
    ctx: &StrategyContext<'_>,
    shared: &Shared,
    cfg: &StrategyConfig,
) -> Strategy {
    let mult = cfg.multiplier;
    let plain: Vec<Leg> = legs.iter().map(|l| l.leg).collect();
    let payoff = Payoff::new(&plain);
    let credit = payoff.credit();
    let spot = ctx.market.spot;
    let credit_natural: f64 = legs
        .iter()
        .map(|l| -l.sign() * f64::from(l.quantity) * l.fill(0.5))
        .sum();
    let credit_fill: f64 = legs
        .iter()
        .map(|l| -l.sign() * f64::from(l.quantity) * l.fill(cfg.slippage))
        .sum();
    let contracts_per_unit: f64 = legs.iter().map(|l| f64::from(l.quantity)).sum();
    let fees = cfg.fee_per_contract * contracts_per_unit / mult;
    let trade_cost = credit - credit_fill + fees;
    let max_loss = payoff.max_loss();
    let downside_loss = (-payoff.pnl(0.0)).max(0.0);
    let breakevens = payoff.breakevens();
    let pop = Payoff::pop_lognormal_in(
        &payoff.profit_intervals_at(&breakevens),
        ctx.market.forward(),
        ctx.total_variance,
    );
    let mut warnings = Vec::new();

    // P&L to the exits.
    let moves = ctx.historical_moves;
    let exits = shared.model.and_then(|model| {
        let costs = Costs {
            entry: trade_cost,
            // Expiring on the reaction day: nothing to buy back.
            exit: if model.days_after > 0.0 {
                trade_cost
            } else {
                0.0
            },
        };
        let sets: Vec<&[f64]> = std::iter::once(moves)
            .chain(shared.rescaled.as_deref())
            .collect();
        let engine = ExitEngine::new(&plain, credit, spot, model, costs, &sets);
        let [close, hold] = engine.evaluate(moves)?;
        let rescaled = shared
            .rescaled
            .as_deref()
            .and_then(|r| engine.pop(cfg.exit, r));
        Some((
            Exits {
                close_after_reaction: close,
                hold_to_expiry: hold,
                model,
            },
            rescaled,
        ))
    });
    let (exits, pop_rescaled) = match exits {
        Some((e, r)) => (Some(e), r),
        None => (None, None),
    };
    let shown = exits.as_ref().map(|e| e.get(cfg.exit).clone());
    let (expected_pnl, pop_empirical, worst_pnl, pop_interval) = match &shown {
        Some(s) => (
            Some(s.expected_pnl),
            Some(s.pop),
            Some(s.worst_pnl),
            Some(s.pop_interval),
        ),
        None => {
            // No vol for the exit: the expiry payoff with the other sessions motionless.
            let emp = payoff.empirical(spot, moves);
            if emp.is_some() {
                warnings.push(
                    "no ATM or diffusion vol for the exit: expected P&L is the expiry payoff of \
                     the past moves with every other session motionless (optimistic)"
                        .to_string(),
                );
            }
            (
                emp.map(|e| e.1 - trade_cost),
                emp.map(|e| e.0),
                None,
                emp.map(|e| crate::exit::wilson_interval(e.0, moves.len())),
            )
        }
    };
    if let Some(ev) = expected_pnl
        && ev < 0.0
        && pop >= 0.5
    {
        warnings.push(format!(
            "{}: POP {:.0}% but expected P&L {:.2}/share ({}, after costs) under historical \
             moves is negative: not a recommendation",
            kind.as_str(),
            pop * 100.0,
            ev,
            cfg.exit.label()
        ));
    }
    if let (Some(p), Some([lo, hi])) = (pop_empirical, pop_interval)
        && p >= 0.9
        && moves.len() < 20
    {
        warnings.push(format!(
            "{}: POP hist {:.0}% from only {} past reports is not a probability: the 95 % \
             interval is {:.0}–{:.0}%",
            kind.as_str(),
            p * 100.0,
            moves.len(),
            lo * 100.0,
            hi * 100.0
        ));
    }

    // Margin, dollars, greeks, size.
    let (margin_sh, rule) = reg_t_margin(&legs, spot, max_loss);
    let margin = Margin {
        per_share: margin_sh,
        per_contract: margin_sh * mult,
        rule: rule.to_string(),
    };
    let defined = matches!(max_loss, MaxLoss::Bounded(_));
    let risk_per_contract = match max_loss {
        MaxLoss::Bounded(l) => l.max(0.0) * mult,
        MaxLoss::Unbounded => margin.per_contract,
    };
    let budget = cfg.account_size * cfg.risk_per_trade;
    let min_oi = legs.iter().map(|l| l.open_interest).min().unwrap_or(0);
    let oi_cap = (min_oi as f64 * cfg.max_open_interest_share).floor() as u64;
    let (contracts, limited_by) = contracts_for(budget, risk_per_contract, oi_cap);
    let sizing = Sizing {
        risk_budget: budget,
        risk_per_contract,
        defined_risk: defined,
        contracts,
        capital_at_risk: contracts as f64 * risk_per_contract,
        open_interest_cap: oi_cap,
        limited_by,
    };
    let per_contract = PerContract {
        credit: credit * mult,
        credit_natural: credit_natural * mult,
        credit_fill: credit_fill * mult,
        fees: fees * mult,
        max_loss: match max_loss {
            MaxLoss::Bounded(l) => Some(l * mult),
            MaxLoss::Unbounded => None,
        },
        downside_loss: downside_loss * mult,
        margin: margin.per_contract,
        expected_pnl: expected_pnl.map(|e| e * mult),
        worst_pnl: worst_pnl.map(|e| e * mult),
    };
    let liquidity = legs
        .iter()
        .filter_map(|l| l.liquidity)
        .min()
        .unwrap_or(LiquidityTier::Reject);
    let return_on_risk = expected_pnl
        .filter(|_| risk_per_contract > 0.0)
        .map(|e| e * mult / risk_per_contract);
    let weight = match liquidity {
        LiquidityTier::Excellent => 1.0,
        LiquidityTier::Good => cfg.rank_weight_good,
        LiquidityTier::Warning => cfg.rank_weight_warning,
        LiquidityTier::Reject => 0.0,
    };
    Strategy {
        kind,
        credit,
        credit_natural: Some(credit_natural),
        credit_fill: Some(credit_fill),
        max_loss,
        downside_loss: Some(downside_loss),
        breakevens,
        pop,
        pop_empirical,
        pop_empirical_interval: pop_interval,
        pop_empirical_rescaled: pop_rescaled,
        expected_pnl,
        worst_pnl,
        exit: shown.as_ref().map(|s| s.exit),
        exits,
        greeks: net_greeks(&legs, ctx, mult),
        margin: Some(margin),
        per_contract: Some(per_contract),
        sizing: Some(sizing),
        return_on_risk,
        rank_score: return_on_risk.map(|r| r * weight),
        rank: None,
        recommended: false,
        not_eligible: Vec::new(),
        multiplier: mult,
        liquidity,
        warnings,
        legs,
    }
}

/// Why a strategy cannot be chosen (empty: eligible).
fn eligibility(s: &Strategy, cfg: &StrategyConfig) -> Vec<String> {
    let mut why = Vec::new();
    if s.legs
        .iter()
        .any(|l| l.liquidity.is_none_or(|t| t == LiquidityTier::Reject))
    {
        why.push("a leg's own liquidity is REJECT".to_string());
    }
    match s.expected_pnl {
        Some(e) if e > 0.0 => {}
        Some(e) => why.push(format!(
            "expected P&L {e:.2}/share ({}, after costs) is not positive",
            cfg.exit.label()
        )),
        None => why.push("no expected P&L (no history)".to_string()),
    }
    if let Some(z) = &s.sizing
        && z.contracts == 0
    {
        why.push(match z.limited_by {
            SizeLimit::RiskBudget => format!(
                "one contract risks {:.0} ({}), above the risk budget {:.0}",
                z.risk_per_contract,
                if z.defined_risk { "max loss" } else { "margin" },
                z.risk_budget
            ),
            SizeLimit::OpenInterest => format!(
                "open interest allows no contract ({:.0} % of the thinnest leg's)",
                cfg.max_open_interest_share * 100.0
            ),
        });
    }
    if s.max_loss == MaxLoss::Unbounded && s.liquidity < cfg.naked_min_liquidity {
        why.push(format!(
            "undefined risk with {} liquidity (needs {}): defined risk preferred",
            s.liquidity.as_str(),
            cfg.naked_min_liquidity.as_str()
        ));
    }
    why
}

/// Builds every strategy the event expiry supports: straddle, strangle, iron condor and the
/// credit vertical(s) leaning against the skew bias (steep put skew → sell the rich puts with a
/// bull put spread; call skew → bear call spread; neutral → both), prices them to both exits,
/// sizes them and ranks them (see the module docs). No leg is a REJECT-liquidity quote.
pub fn build_strategies(
    ctx: &StrategyContext<'_>,
    cfg: &StrategyConfig,
    liq: &LiquidityConfig,
) -> Vec<Strategy> {
    let shared = Shared {
        model: ExitModel::new(
            ctx.as_of,
            ctx.reaction,
            ctx.chain.expiration,
            &ctx.market,
            ctx.atm_iv,
            ctx.event_variance,
            ctx.diffusion_vol,
        ),
        rescaled: ctx.event_std.and_then(|target| {
            let rms = crate::stats::rms(ctx.historical_moves)?;
            (rms > 0.0).then(|| {
                ctx.historical_moves
                    .iter()
                    .map(|m| m * target / rms)
                    .collect()
            })
        }),
    };
    let liq = &Tiers::new(liq);
    let mut out = Vec::new();
    let ch = ctx.chain;
    let ok = |q: &&OptionQuote| liq.ok(q);
    if let (Some(c), Some(p)) = (
        ch.quote(OptionKind::Call, ctx.atm_strike).filter(ok),
        ch.quote(OptionKind::Put, ctx.atm_strike).filter(ok),
    ) {
        let iv = smile_iv(ctx.smile, ctx.atm_strike).or(ctx.atm_iv);
        out.push(finish(
            StrategyKind::ShortStraddle,
            vec![
                strategy_leg(c, Side::Short, iv, ctx, liq),
                strategy_leg(p, Side::Short, iv, ctx, liq),
            ],
            ctx,
            &shared,
            cfg,
        ));
    }
    let spot = ctx.market.spot;
    let puts_all = otm_cands(ctx, OptionKind::Put);
    let calls_all = otm_cands(ctx, OptionKind::Call);
    if ctx.implied_move > 0.0
        && let (Some(p), Some(c)) = (
            pick(&puts_all, liq, |c| {
                (c.q.strike - spot * (1.0 - ctx.implied_move)).abs()
            }),
            pick(&calls_all, liq, |c| {
                (c.q.strike - spot * (1.0 + ctx.implied_move)).abs()
            }),
        )
    {
        out.push(finish(
            StrategyKind::ShortStrangle,
            vec![
                strategy_leg(p.q, Side::Short, Some(p.iv), ctx, liq),
                strategy_leg(c.q, Side::Short, Some(c.iv), ctx, liq),
            ],
            ctx,
            &shared,
            cfg,
        ));
    }
    let mut puts = side(ctx, &puts_all, OptionKind::Put, cfg, liq);
    let mut calls = side(ctx, &calls_all, OptionKind::Call, cfg, liq);
    if let (Some(p), Some(c)) = (puts.as_mut(), calls.as_mut()) {
        if cfg.wing_width.is_none() && cfg.wing_rule == WingRule::ImpliedMove {
            narrow_wings(
                p,
                c,
                cfg.min_credit_to_width,
                cfg.account_size * cfg.risk_per_trade,
                cfg.multiplier,
            );
        }
        let (sp, lp, sc, lc) = (p.short, p.wing(), c.short, c.wing());
        out.push(finish(
            StrategyKind::IronCondor,
            vec![
                strategy_leg(lp.q, Side::Long, Some(lp.iv), ctx, liq),
                strategy_leg(sp.q, Side::Short, Some(sp.iv), ctx, liq),
                strategy_leg(sc.q, Side::Short, Some(sc.iv), ctx, liq),
                strategy_leg(lc.q, Side::Long, Some(lc.iv), ctx, liq),
            ],
            ctx,
            &shared,
            cfg,
        ));
    }
    if ctx.bias != Bias::Bullish
        && let Some(p) = &puts
    {
        let (sp, lp) = (p.short, p.wing());
        out.push(finish(
            StrategyKind::BullPutSpread,
            vec![
                strategy_leg(lp.q, Side::Long, Some(lp.iv), ctx, liq),
                strategy_leg(sp.q, Side::Short, Some(sp.iv), ctx, liq),
            ],
            ctx,
            &shared,
            cfg,
        ));
    }
    if ctx.bias != Bias::Bearish
        && let Some(c) = &calls
    {
        let (sc, lc) = (c.short, c.wing());
        out.push(finish(
            StrategyKind::BearCallSpread,
            vec![
                strategy_leg(sc.q, Side::Short, Some(sc.iv), ctx, liq),
                strategy_leg(lc.q, Side::Long, Some(lc.iv), ctx, liq),
            ],
            ctx,
            &shared,
            cfg,
        ));
    }
    rank(&mut out, cfg);
    out
}

/// Marks eligibility, ranks the eligible strategies by `rank_score` (ties: the smaller risk per
/// contract) and recommends the first.
fn rank(out: &mut [Strategy], cfg: &StrategyConfig) {
    let mut eligible: Vec<usize> = Vec::new();
    for (i, s) in out.iter_mut().enumerate() {
        s.not_eligible = eligibility(s, cfg);
        if s.not_eligible.is_empty() && s.rank_score.is_some() {
            eligible.push(i);
        }
    }
    let risk = |s: &Strategy| s.sizing.map_or(f64::INFINITY, |z| z.risk_per_contract);
    eligible.sort_by(|&a, &b| {
        let (x, y) = (&out[a], &out[b]);
        y.rank_score
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&x.rank_score.unwrap_or(f64::NEG_INFINITY))
            .then(risk(x).total_cmp(&risk(y)))
    });
    for (r, &i) in eligible.iter().enumerate() {
        out[i].rank = Some(r as u32 + 1);
        out[i].recommended = r == 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(kind: OptionKind, strike: f64, side: Side, mid: f64) -> Leg {
        Leg {
            kind,
            strike,
            side,
            quantity: 1,
            mid,
        }
    }

    #[test]
    fn iron_condor_max_loss_is_the_wider_wing_minus_credit() {
        // Put wing 5 wide, call wing 10 wide, credit 1.5.
        let legs = [
            l(OptionKind::Put, 85.0, Side::Long, 0.5),
            l(OptionKind::Put, 90.0, Side::Short, 1.2),
            l(OptionKind::Call, 110.0, Side::Short, 1.3),
            l(OptionKind::Call, 120.0, Side::Long, 0.5),
        ];
        let p = Payoff::new(&legs);
        assert!((p.credit() - 1.5).abs() < 1e-12);
        assert_eq!(p.max_loss(), MaxLoss::Bounded(10.0 - 1.5));
        assert_eq!(p.breakevens(), vec![88.5, 111.5]);
    }

    #[test]
    fn naked_short_call_has_unbounded_loss() {
        let p = Payoff::new(&[
            l(OptionKind::Call, 100.0, Side::Short, 3.0),
            l(OptionKind::Put, 100.0, Side::Short, 3.0),
        ]);
        assert_eq!(p.max_loss(), MaxLoss::Unbounded);
        assert_eq!(p.breakevens(), vec![94.0, 106.0]);
    }
}
