//! Concrete short-premium strategies on the event expiry (spec §8): legs, net credit, max loss
//! (unbounded stated as such), breakevens, probability of profit two ways and expected P&L.
//!
//! Every strategy is a sum of vanilla legs, so its P&L at expiry is piecewise linear in the
//! underlying with kinks at the strikes. Max loss, breakevens and profit intervals are read off
//! that function exactly (one generic path for every strategy), never from per-strategy formulas
//! that an older system got wrong for condors.

use crate::config::{LiquidityConfig, StrategyConfig};
use crate::liquidity::{LiquidityTier, worst_tier};
use crate::pricing::{OptionParams, bsm_delta, norm_cdf};
use crate::skew::Bias;
use crate::smile::{ExpiryMarket, SmilePoint};
use crate::types::{OptionChain, OptionKind, OptionQuote};
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

/// Worst loss at expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxLoss {
    /// Bounded: the loss per share (≥ 0).
    Bounded(f64),
    /// Unbounded (a naked short call); never reported as a number.
    Unbounded,
}

/// One strategy with its risk and reward (per share; × multiplier per contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// Which strategy.
    pub kind: StrategyKind,
    /// Legs.
    pub legs: Vec<Leg>,
    /// Net credit per share (mids).
    pub credit: f64,
    /// Max loss per share.
    pub max_loss: MaxLoss,
    /// Underlying prices at expiry where P&L is zero, ascending.
    pub breakevens: Vec<f64>,
    /// P(P&L > 0), lognormal with the event-adjusted variance of the expiry.
    pub pop: f64,
    /// P(P&L > 0) over the historical earnings moves as they happened.
    pub pop_empirical: Option<f64>,
    /// P(P&L > 0) over the historical moves rescaled to the implied event standard deviation.
    pub pop_empirical_rescaled: Option<f64>,
    /// Mean P&L per share over the historical moves (the edge; negative = the market is right).
    pub expected_pnl: Option<f64>,
    /// Contract multiplier used for per-contract figures.
    pub multiplier: f64,
    /// Worst leg's liquidity tier.
    pub liquidity: LiquidityTier,
    /// Caveats (e.g. high POP with negative expectancy).
    pub warnings: Vec<String>,
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
    pub fn new(legs: &[Leg]) -> Payoff {
        let credit = legs
            .iter()
            .map(|l| -l.sign() * f64::from(l.quantity) * l.mid)
            .sum();
        let mut kinks: Vec<f64> = legs.iter().map(|l| l.strike).collect();
        kinks.sort_by(f64::total_cmp);
        kinks.dedup();
        Payoff {
            legs: legs.to_vec(),
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
        let mut cuts = vec![0.0];
        cuts.extend(self.breakevens());
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
        self.profit_intervals()
            .iter()
            .map(|&(a, b)| cdf(b) - cdf(a))
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// Share of scenarios `S_T = spot·(1 + m)` with positive P&L, and their mean P&L.
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
}

fn valid(chain: &OptionChain, kind: OptionKind, strike: f64) -> Option<&OptionQuote> {
    chain.quote(kind, strike).filter(|q| q.is_valid())
}

fn leg(q: &OptionQuote, side: Side) -> Leg {
    Leg {
        kind: q.kind,
        strike: q.strike,
        side,
        quantity: 1,
        mid: q.mid(),
    }
}

/// OTM quotes of one kind with their |Δ| from the smile vol at their strike.
fn otm_deltas<'a>(ctx: &StrategyContext<'a>, kind: OptionKind) -> Vec<(&'a OptionQuote, f64)> {
    let f = ctx.market.forward();
    ctx.chain
        .quotes
        .iter()
        .filter(|q| q.kind == kind && q.is_valid())
        .filter(|q| match kind {
            OptionKind::Call => q.strike > f,
            OptionKind::Put => q.strike < f,
        })
        .filter_map(|q| {
            let iv = ctx.smile.iter().find(|p| p.strike == q.strike)?.iv;
            let m = &ctx.market;
            let p = OptionParams::new(kind, m.spot, q.strike, m.t, m.rate, m.div).ok()?;
            Some((q, bsm_delta(&p, iv).abs()))
        })
        .collect()
}

fn closest_delta<'a>(cands: &[(&'a OptionQuote, f64)], target: f64) -> Option<&'a OptionQuote> {
    cands
        .iter()
        .min_by(|a, b| (a.1 - target).abs().total_cmp(&(b.1 - target).abs()))
        .map(|c| c.0)
}

/// Short leg at ≈`short_delta` and a further-OTM long wing (≈`long_delta`, or a fixed width).
fn vertical<'a>(
    ctx: &StrategyContext<'a>,
    kind: OptionKind,
    cfg: &StrategyConfig,
) -> Option<(&'a OptionQuote, &'a OptionQuote)> {
    let cands = otm_deltas(ctx, kind);
    let short = closest_delta(&cands, cfg.short_delta)?;
    let further = |q: &&OptionQuote| match kind {
        OptionKind::Call => q.strike > short.strike,
        OptionKind::Put => q.strike < short.strike,
    };
    let long = match cfg.wing_width {
        Some(w) => {
            let target = match kind {
                OptionKind::Call => short.strike + w,
                OptionKind::Put => short.strike - w,
            };
            cands.iter().map(|c| c.0).filter(further).min_by(|a, b| {
                (a.strike - target)
                    .abs()
                    .total_cmp(&(b.strike - target).abs())
            })?
        }
        None => {
            let wings: Vec<_> = cands.iter().copied().filter(|c| further(&c.0)).collect();
            closest_delta(&wings, cfg.long_delta)?
        }
    };
    Some((short, long))
}

fn finish(
    kind: StrategyKind,
    legs: Vec<Leg>,
    quotes: &[&OptionQuote],
    ctx: &StrategyContext<'_>,
    cfg: &StrategyConfig,
    liq: &LiquidityConfig,
) -> Strategy {
    let payoff = Payoff::new(&legs);
    let spot = ctx.market.spot;
    let emp = payoff.empirical(spot, ctx.historical_moves);
    let rescaled = ctx.event_std.and_then(|target| {
        let rms = crate::stats::rms(ctx.historical_moves)?;
        (rms > 0.0).then(|| {
            let scaled: Vec<f64> = ctx
                .historical_moves
                .iter()
                .map(|m| m * target / rms)
                .collect();
            payoff.empirical(spot, &scaled).map(|(p, _)| p)
        })?
    });
    let pop = payoff.pop_lognormal(ctx.market.forward(), ctx.total_variance);
    let mut warnings = Vec::new();
    if let Some((_, ev)) = emp
        && ev < 0.0
        && pop >= 0.5
    {
        warnings.push(format!(
            "POP {:.0}% but expected P&L {:.2}/share under historical moves is negative: not a recommendation",
            pop * 100.0,
            ev
        ));
    }
    Strategy {
        kind,
        credit: payoff.credit(),
        max_loss: payoff.max_loss(),
        breakevens: payoff.breakevens(),
        pop,
        pop_empirical: emp.map(|e| e.0),
        pop_empirical_rescaled: rescaled,
        expected_pnl: emp.map(|e| e.1),
        multiplier: cfg.multiplier,
        liquidity: worst_tier(quotes.iter().copied(), liq),
        warnings,
        legs,
    }
}

/// Builds every strategy the event expiry supports: straddle, strangle, iron condor and the
/// credit vertical(s) leaning against the skew bias (steep put skew → sell the rich puts with a
/// bull put spread; call skew → bear call spread; neutral → both).
pub fn build_strategies(
    ctx: &StrategyContext<'_>,
    cfg: &StrategyConfig,
    liq: &LiquidityConfig,
) -> Vec<Strategy> {
    let mut out = Vec::new();
    let ch = ctx.chain;
    if let (Some(c), Some(p)) = (
        valid(ch, OptionKind::Call, ctx.atm_strike),
        valid(ch, OptionKind::Put, ctx.atm_strike),
    ) {
        out.push(finish(
            StrategyKind::ShortStraddle,
            vec![leg(c, Side::Short), leg(p, Side::Short)],
            &[c, p],
            ctx,
            cfg,
            liq,
        ));
    }
    let spot = ctx.market.spot;
    let nearest = |kind: OptionKind, target: f64| {
        otm_deltas(ctx, kind)
            .into_iter()
            .map(|c| c.0)
            .min_by(|a, b| {
                (a.strike - target)
                    .abs()
                    .total_cmp(&(b.strike - target).abs())
            })
    };
    if ctx.implied_move > 0.0
        && let (Some(p), Some(c)) = (
            nearest(OptionKind::Put, spot * (1.0 - ctx.implied_move)),
            nearest(OptionKind::Call, spot * (1.0 + ctx.implied_move)),
        )
    {
        out.push(finish(
            StrategyKind::ShortStrangle,
            vec![leg(p, Side::Short), leg(c, Side::Short)],
            &[p, c],
            ctx,
            cfg,
            liq,
        ));
    }
    let puts = vertical(ctx, OptionKind::Put, cfg);
    let calls = vertical(ctx, OptionKind::Call, cfg);
    if let (Some((sp, lp)), Some((sc, lc))) = (puts, calls) {
        out.push(finish(
            StrategyKind::IronCondor,
            vec![
                leg(lp, Side::Long),
                leg(sp, Side::Short),
                leg(sc, Side::Short),
                leg(lc, Side::Long),
            ],
            &[lp, sp, sc, lc],
            ctx,
            cfg,
            liq,
        ));
    }
    if ctx.bias != Bias::Bullish
        && let Some((sp, lp)) = puts
    {
        out.push(finish(
            StrategyKind::BullPutSpread,
            vec![leg(lp, Side::Long), leg(sp, Side::Short)],
            &[lp, sp],
            ctx,
            cfg,
            liq,
        ));
    }
    if ctx.bias != Bias::Bearish
        && let Some((sc, lc)) = calls
    {
        out.push(finish(
            StrategyKind::BearCallSpread,
            vec![leg(sc, Side::Short), leg(lc, Side::Long)],
            &[sc, lc],
            ctx,
            cfg,
            liq,
        ));
    }
    out
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
