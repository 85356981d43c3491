//! Backtest analytics: the settlement of one traded strategy, the trade record, a summary over
//! many trades (win rate, P&L, per-trade Sharpe, drawdown, groupings, POP calibration) and a
//! walk-forward choice among parameter profiles. Pure functions over numbers handed in; the app
//! layer reads the historical chains and builds the strategies.
//!
//! **Fills.** Every leg fills at its mid `(bid + ask)/2` giving up `s` half-spreads: a sell at
//! `mid − s·(ask − bid)/2`, a buy at `mid + s·(ask − bid)/2` (`s = 0` at mid, `s = 1` at the
//! natural price; default 0.5). [`crate::config::StrategyConfig::slippage`] is a fraction of the
//! *full* spread, so `s = 2 × slippage` ([`TradeCosts::from_config`]). Closing pays the same rule
//! reversed (shorts bought back above mid, longs sold below). A leg's stored `mid` is not used:
//! the fill comes from its bid and ask.
//!
//! **Costs.** A commission per contract per leg is paid to open and again to close before expiry;
//! settling at expiry is free. Per-share figures divide it by the multiplier.
//!
//! **Units.** `credit`, `exit_cost`, `pnl`, `max_loss` are per share of one strategy unit;
//! `pnl_per_contract` is × multiplier; `pnl_pct` is a fraction (0.25 = 25 % of the risk).
//! Summary P&L figures are per contract (currency).
//!
//! **Determinism.** Groupings are `BTreeMap`s and calibration a sorted `Vec`: the same trades
//! serialise to byte-identical JSON.

use crate::config::StrategyConfig;
use crate::liquidity::LiquidityTier;
use crate::stats::{mean, median, std_dev};
use crate::strategy::{MaxLoss, Payoff, Side, StrategyKind, StrategyLeg};
use crate::types::{OptionChain, OptionQuote};
use crate::vrp::VrpTier;
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Default slippage in half-spreads (a quarter of the spread from mid).
pub const DEFAULT_SLIPPAGE: f64 = 0.5;
/// Default contract multiplier.
pub const DEFAULT_MULTIPLIER: f64 = 100.0;

/// Fill and fee assumptions of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradeCosts {
    /// Half-spreads given up from mid per fill (`s`; 0 = mid, 1 = natural).
    pub slippage: f64,
    /// Commission per contract per leg per trade (open; close again before expiry), currency.
    pub commission: f64,
    /// Contract multiplier (100).
    pub multiplier: f64,
}

impl Default for TradeCosts {
    fn default() -> Self {
        TradeCosts {
            slippage: DEFAULT_SLIPPAGE,
            commission: 0.65,
            multiplier: DEFAULT_MULTIPLIER,
        }
    }
}

impl TradeCosts {
    /// The analysis's own assumptions: `slippage` there is a fraction of the full spread, here
    /// of the half-spread (×2); its fee per contract and multiplier as they are.
    pub fn from_config(cfg: &StrategyConfig) -> TradeCosts {
        TradeCosts {
            slippage: 2.0 * cfg.slippage,
            commission: cfg.fee_per_contract,
            multiplier: cfg.multiplier,
        }
    }

    fn validate(&self) -> Result<(), SettleError> {
        let bad = |name: &'static str, value: f64| SettleError::BadParameter { name, value };
        if !(self.slippage.is_finite() && self.slippage >= 0.0) {
            return Err(bad("slippage", self.slippage));
        }
        if !(self.commission.is_finite() && self.commission >= 0.0) {
            return Err(bad("commission", self.commission));
        }
        if !(self.multiplier.is_finite() && self.multiplier > 0.0) {
            return Err(bad("multiplier", self.multiplier));
        }
        Ok(())
    }
}

/// A bid and an ask per share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BidAsk {
    /// Bid.
    pub bid: f64,
    /// Ask.
    pub ask: f64,
}

impl From<&OptionQuote> for BidAsk {
    fn from(q: &OptionQuote) -> BidAsk {
        BidAsk {
            bid: q.bid,
            ask: q.ask,
        }
    }
}

/// Each leg's quote in `chain` (same kind, exactly the same strike), in leg order; `None` where
/// the chain has none (settling then fails with [`SettleError::MissingExitQuote`]).
pub fn exit_quotes(legs: &[StrategyLeg], chain: &OptionChain) -> Vec<Option<BidAsk>> {
    legs.iter()
        .map(|l| chain.quote(l.kind, l.strike).map(BidAsk::from))
        .collect()
}

/// How a trade ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TradeExit<'a> {
    /// Bought back at the reaction day's quotes, one per leg in leg order.
    Close(&'a [Option<BidAsk>]),
    /// Held to expiry: settles at intrinsic value at the underlying's settlement price.
    HoldToExpiry {
        /// The underlying's settlement price.
        settlement: f64,
    },
}

/// Which quote of a leg was bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuoteAt {
    /// The opening quote.
    Entry,
    /// The closing quote.
    Exit,
}

impl fmt::Display for QuoteAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuoteAt::Entry => "entry",
            QuoteAt::Exit => "exit",
        })
    }
}

/// Why a trade cannot be settled (never a guessed number instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettleError {
    /// No legs.
    #[error("the strategy has no legs")]
    NoLegs,
    /// A strike that is not a finite positive number.
    #[error("leg {leg}: strike {strike} is not a finite positive number")]
    BadStrike {
        /// Leg index.
        leg: usize,
        /// The strike.
        strike: f64,
    },
    /// A leg of zero contracts.
    #[error("leg {leg}: quantity is 0")]
    ZeroQuantity {
        /// Leg index.
        leg: usize,
    },
    /// A quote with a NaN, a negative price, an ask below the bid (or a zero ask at entry).
    #[error(
        "leg {leg}: {at} quote bid {bid} / ask {ask} is invalid (needs finite 0 <= bid <= ask{})",
        if matches!(at, QuoteAt::Entry) { ", ask > 0" } else { "" }
    )]
    BadQuote {
        /// Leg index.
        leg: usize,
        /// Entry or exit.
        at: QuoteAt,
        /// Bid.
        bid: f64,
        /// Ask.
        ask: f64,
    },
    /// The exit chain has no quote for a leg.
    #[error("leg {leg}: no exit quote")]
    MissingExitQuote {
        /// Leg index.
        leg: usize,
    },
    /// Exit quotes not one per leg.
    #[error("{quotes} exit quotes for {legs} legs")]
    ExitQuoteCount {
        /// Legs.
        legs: usize,
        /// Quotes given.
        quotes: usize,
    },
    /// A settlement price that is not a finite positive number.
    #[error("settlement price {0} is not a finite positive number")]
    BadSettlement(f64),
    /// A cost parameter or the margin out of range.
    #[error("{name} = {value} is out of range")]
    BadParameter {
        /// Which one.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// `pnl_pct` needs a risk: the max loss is unbounded (or zero) and no margin was given.
    #[error("max loss is unbounded or zero and no margin was given: no basis for pnl_pct")]
    NoRiskBasis,
}

/// The outcome of one settled trade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradeResult {
    /// Net credit per share at the entry fills (negative for a debit), before commissions.
    pub credit: f64,
    /// Net cost per share to close (buy-backs at the exit fills, or the intrinsic value owed at
    /// expiry); negative when closing receives money.
    pub exit_cost: f64,
    /// Commissions per share, both ways.
    pub commissions: f64,
    /// `credit − exit_cost − commissions`, per share.
    pub pnl: f64,
    /// `pnl × multiplier`.
    pub pnl_per_contract: f64,
    /// `pnl / max_loss` when the max loss is bounded and positive, else `pnl / margin`.
    pub pnl_pct: f64,
    /// Worst loss per share at expiry from the filled credit less the opening commissions.
    pub max_loss: MaxLoss,
}

fn check_quote(leg: usize, at: QuoteAt, bid: f64, ask: f64) -> Result<(), SettleError> {
    // Written to reject NaN too; an entry needs a real offer (a zero ask is no quote).
    let ok =
        bid >= 0.0 && ask >= bid && ask.is_finite() && (matches!(at, QuoteAt::Exit) || ask > 0.0);
    if ok {
        Ok(())
    } else {
        Err(SettleError::BadQuote { leg, at, bid, ask })
    }
}

/// Settles one trade of `legs` (entry bid/ask on each leg) to `exit` under `costs`.
/// `margin_per_share` is the risk basis of `pnl_pct` when the max loss is unbounded.
///
/// # Errors
/// [`SettleError`] for NaN or negative prices, an ask below the bid, a missing exit quote, a
/// non-positive settlement price, bad costs or no risk basis.
pub fn settle(
    legs: &[StrategyLeg],
    exit: TradeExit<'_>,
    costs: &TradeCosts,
    margin_per_share: Option<f64>,
) -> Result<TradeResult, SettleError> {
    costs.validate()?;
    if legs.is_empty() {
        return Err(SettleError::NoLegs);
    }
    let half = 0.5 * costs.slippage;
    let mut credit = 0.0;
    let mut contracts = 0.0;
    for (i, l) in legs.iter().enumerate() {
        if !(l.strike > 0.0 && l.strike.is_finite()) {
            return Err(SettleError::BadStrike {
                leg: i,
                strike: l.strike,
            });
        }
        if l.quantity == 0 {
            return Err(SettleError::ZeroQuantity { leg: i });
        }
        check_quote(i, QuoteAt::Entry, l.bid, l.ask)?;
        let (mid, slip, q) = (
            0.5 * (l.bid + l.ask),
            half * (l.ask - l.bid),
            f64::from(l.quantity),
        );
        credit += match l.side {
            Side::Short => q * (mid - slip),
            Side::Long => -q * (mid + slip),
        };
        contracts += q;
    }
    let entry_commission = costs.commission * contracts / costs.multiplier;
    let (exit_cost, exit_commission) = match exit {
        TradeExit::Close(quotes) => {
            if quotes.len() != legs.len() {
                return Err(SettleError::ExitQuoteCount {
                    legs: legs.len(),
                    quotes: quotes.len(),
                });
            }
            let mut cost = 0.0;
            for (i, (l, quote)) in legs.iter().zip(quotes).enumerate() {
                let BidAsk { bid, ask } = quote.ok_or(SettleError::MissingExitQuote { leg: i })?;
                check_quote(i, QuoteAt::Exit, bid, ask)?;
                let (mid, slip, q) = (0.5 * (bid + ask), half * (ask - bid), f64::from(l.quantity));
                cost += match l.side {
                    Side::Short => q * (mid + slip),
                    Side::Long => -q * (mid - slip),
                };
            }
            (cost, entry_commission)
        }
        TradeExit::HoldToExpiry { settlement } => {
            if !(settlement > 0.0 && settlement.is_finite()) {
                return Err(SettleError::BadSettlement(settlement));
            }
            // The legs' expiry value to the holder; what the trade owes is its negative.
            (-Payoff::with_credit(legs, 0.0).pnl(settlement), 0.0)
        }
    };
    let commissions = entry_commission + exit_commission;
    let pnl = credit - exit_cost - commissions;
    let max_loss = Payoff::with_credit(legs, credit - entry_commission).max_loss();
    let pnl_pct = match max_loss {
        MaxLoss::Bounded(l) if l > 0.0 => pnl / l,
        _ => match margin_per_share {
            Some(m) if m > 0.0 && m.is_finite() => pnl / m,
            Some(m) => {
                return Err(SettleError::BadParameter {
                    name: "margin_per_share",
                    value: m,
                });
            }
            None => return Err(SettleError::NoRiskBasis),
        },
    };
    Ok(TradeResult {
        credit,
        exit_cost,
        commissions,
        pnl,
        pnl_per_contract: pnl * costs.multiplier,
        pnl_pct,
        max_loss,
    })
}

/// What a trade record carries besides its settlement.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeInfo {
    /// Ticker.
    pub ticker: String,
    /// Earnings report date.
    pub report_date: NaiveDate,
    /// Opened.
    pub entry_date: NaiveDate,
    /// Closed or expired.
    pub exit_date: NaiveDate,
    /// Which strategy.
    pub strategy: StrategyKind,
    /// Implied move at entry, percent (5.0 = 5 %).
    pub implied_move_pct: f64,
    /// Realised reaction, signed percent.
    pub realised_move_pct: f64,
    /// VRP tier at entry.
    pub vrp_tier: VrpTier,
    /// Liquidity tier at entry.
    pub liquidity_tier: LiquidityTier,
    /// Composite score at entry (0–100).
    pub score: f64,
    /// Lognormal probability of profit at entry.
    pub pop_lognormal: Option<f64>,
    /// Empirical probability of profit at entry.
    pub pop_empirical: Option<f64>,
}

/// One backtested trade (per share unless stated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Ticker.
    pub ticker: String,
    /// Earnings report date.
    pub report_date: NaiveDate,
    /// Opened.
    pub entry_date: NaiveDate,
    /// Closed or expired.
    pub exit_date: NaiveDate,
    /// Which strategy.
    pub strategy: StrategyKind,
    /// Legs with their entry bid and ask.
    pub legs: Vec<StrategyLeg>,
    /// Net credit per share at the entry fills.
    pub credit: f64,
    /// Net P&L per share after slippage and commissions.
    pub pnl: f64,
    /// Net P&L per contract (currency).
    pub pnl_per_contract: f64,
    /// P&L as a fraction of the max loss (or of the margin when unbounded).
    pub pnl_pct: f64,
    /// Implied move at entry, percent.
    pub implied_move_pct: f64,
    /// Realised reaction, signed percent.
    pub realised_move_pct: f64,
    /// `|realised| ≤ implied`.
    pub inside: bool,
    /// VRP tier at entry.
    pub vrp_tier: VrpTier,
    /// Liquidity tier at entry.
    pub liquidity_tier: LiquidityTier,
    /// Composite score at entry (0–100).
    pub score: f64,
    /// Lognormal probability of profit at entry.
    pub pop_lognormal: Option<f64>,
    /// Empirical probability of profit at entry.
    pub pop_empirical: Option<f64>,
}

impl Trade {
    /// The record of a settled trade.
    pub fn new(info: TradeInfo, legs: Vec<StrategyLeg>, result: &TradeResult) -> Trade {
        Trade {
            inside: info.realised_move_pct.abs() <= info.implied_move_pct,
            ticker: info.ticker,
            report_date: info.report_date,
            entry_date: info.entry_date,
            exit_date: info.exit_date,
            strategy: info.strategy,
            legs,
            credit: result.credit,
            pnl: result.pnl,
            pnl_per_contract: result.pnl_per_contract,
            pnl_pct: result.pnl_pct,
            implied_move_pct: info.implied_move_pct,
            realised_move_pct: info.realised_move_pct,
            vrp_tier: info.vrp_tier,
            liquidity_tier: info.liquidity_tier,
            score: info.score,
            pop_lognormal: info.pop_lognormal,
            pop_empirical: info.pop_empirical,
        }
    }

    /// A win is a positive net P&L.
    pub fn is_win(&self) -> bool {
        self.pnl > 0.0
    }
}

/// Trades of one group (P&L per contract).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Trades in the group (≥ 1).
    pub trades: usize,
    /// Share with a positive P&L.
    pub win_rate: f64,
    /// Mean P&L per contract.
    pub mean_pnl: f64,
    /// Total P&L per contract.
    pub total_pnl: f64,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    wins: usize,
    sum: f64,
}

impl Tally {
    fn add(&mut self, t: &Trade) {
        self.n += 1;
        self.wins += usize::from(t.is_win());
        self.sum += t.pnl_per_contract;
    }
    fn group(&self) -> Group {
        let n = self.n as f64;
        Group {
            trades: self.n,
            win_rate: self.wins as f64 / n,
            mean_pnl: self.sum / n,
            total_pnl: self.sum,
        }
    }
}

/// One decile of predicted probability of profit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBucket {
    /// `"0.6-0.7"`: predicted POP in [0.6, 0.7) (the last bucket includes 1.0).
    pub bucket: String,
    /// Mean predicted POP of its trades.
    pub predicted: f64,
    /// Their win rate.
    pub realised: f64,
    /// Trades.
    pub count: usize,
}

/// Ten buckets of (trades, wins, sum of predictions).
fn calibration(buckets: &[(usize, usize, f64); 10]) -> Vec<CalibrationBucket> {
    buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.0 > 0)
        .map(|(i, &(n, wins, sum))| CalibrationBucket {
            bucket: format!("{:.1}-{:.1}", i as f64 / 10.0, (i + 1) as f64 / 10.0),
            predicted: sum / n as f64,
            realised: wins as f64 / n as f64,
            count: n,
        })
        .collect()
}

/// Decile 0..=9 of a value on `[0, scale]`: `floor(10·x/scale)` clamped (so `scale` itself
/// falls in 9); `None` for a non-finite value.
fn decile(x: f64, scale: f64) -> Option<usize> {
    // The float→int cast saturates; the clamp keeps out-of-range values in the end deciles.
    x.is_finite()
        .then(|| ((x * 10.0 / scale).floor().clamp(0.0, 9.0)) as usize)
}

/// Statistics over trades in entry-date order (P&L per contract, currency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Trades.
    pub trades: usize,
    /// Share with a positive P&L (`None` without trades).
    pub win_rate: Option<f64>,
    /// Mean P&L per contract.
    pub mean_pnl: Option<f64>,
    /// Median P&L per contract.
    pub median_pnl: Option<f64>,
    /// Total P&L per contract.
    pub total_pnl: f64,
    /// Per-trade Sharpe ratio: mean / sample standard deviation of `pnl_pct`; not annualised
    /// (trades are not evenly spaced in time). `None` below two trades or with no dispersion.
    pub sharpe: Option<f64>,
    /// Largest peak-to-trough fall of the cumulative P&L per contract (starting at 0), as a
    /// positive amount (0 when it never falls).
    pub max_drawdown: f64,
    /// By VRP tier at entry.
    pub by_tier: BTreeMap<VrpTier, Group>,
    /// By liquidity tier at entry.
    pub by_liquidity: BTreeMap<LiquidityTier, Group>,
    /// By score decile `floor(score/10)` clamped to 0..=9 (100 in 9); non-finite scores left
    /// out.
    pub by_score_decile: BTreeMap<u8, Group>,
    /// Lognormal POP in deciles against the realised win rate (trades with one; empty buckets
    /// left out).
    pub calibration: Vec<CalibrationBucket>,
    /// The same for the empirical POP.
    pub calibration_empirical: Vec<CalibrationBucket>,
}

/// The [`Summary`] of `trades`, taken in the order given (entry-date order expected: the
/// drawdown follows it).
pub fn summarize<T: Borrow<Trade>>(trades: &[T]) -> Summary {
    let n = trades.len();
    let mut pnls = Vec::with_capacity(n);
    let mut pcts = Vec::with_capacity(n);
    let (mut wins, mut equity, mut peak, mut max_dd) = (0usize, 0.0f64, 0.0f64, 0.0f64);
    let mut by_tier: BTreeMap<VrpTier, Tally> = BTreeMap::new();
    let mut by_liq: BTreeMap<LiquidityTier, Tally> = BTreeMap::new();
    let mut by_dec: BTreeMap<u8, Tally> = BTreeMap::new();
    let mut cal = [(0usize, 0usize, 0.0f64); 10];
    let mut cal_emp = [(0usize, 0usize, 0.0f64); 10];
    for t in trades {
        let t = t.borrow();
        let win = t.is_win();
        wins += usize::from(win);
        pnls.push(t.pnl_per_contract);
        pcts.push(t.pnl_pct);
        equity += t.pnl_per_contract;
        peak = peak.max(equity);
        max_dd = max_dd.max(peak - equity);
        by_tier.entry(t.vrp_tier).or_default().add(t);
        by_liq.entry(t.liquidity_tier).or_default().add(t);
        if let Some(d) = decile(t.score, 100.0) {
            by_dec.entry(d as u8).or_default().add(t);
        }
        for (pop, buckets) in [(t.pop_lognormal, &mut cal), (t.pop_empirical, &mut cal_emp)] {
            if let Some(p) = pop
                && let Some(d) = decile(p, 1.0)
            {
                let b = &mut buckets[d];
                b.0 += 1;
                b.1 += usize::from(win);
                b.2 += p;
            }
        }
    }
    let sharpe = match (mean(&pcts), std_dev(&pcts)) {
        (Some(m), Some(sd)) if sd > 0.0 => Some(m / sd).filter(|s| s.is_finite()),
        _ => None,
    };
    Summary {
        trades: n,
        win_rate: (n > 0).then(|| wins as f64 / n as f64),
        mean_pnl: mean(&pnls),
        median_pnl: median(&pnls),
        total_pnl: pnls.iter().sum(),
        sharpe,
        max_drawdown: max_dd,
        by_tier: by_tier.into_iter().map(|(k, v)| (k, v.group())).collect(),
        by_liquidity: by_liq.into_iter().map(|(k, v)| (k, v.group())).collect(),
        by_score_decile: by_dec.into_iter().map(|(k, v)| (k, v.group())).collect(),
        calibration: calibration(&cal),
        calibration_empirical: calibration(&cal_emp),
    }
}

/// Training and test lengths of a walk-forward, in months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Training months.
    pub train_months: u32,
    /// Test months (also the step).
    pub test_months: u32,
}

/// A walk-forward window spec that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid walk-forward window {input:?}: expected TRAIN:TEST such as 6m:3m or 1y:3m \
     (units m or y, both above zero)"
)]
pub struct ParseWindowError {
    /// The text given.
    pub input: String,
}

impl fmt::Display for WindowSpec {
    /// `6m:3m` (months; parses back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m:{}m", self.train_months, self.test_months)
    }
}

impl FromStr for WindowSpec {
    type Err = ParseWindowError;
    /// `6m:3m`, `1y:3m`, `18M:6M` (m = months, y = years).
    fn from_str(s: &str) -> Result<WindowSpec, ParseWindowError> {
        let err = || ParseWindowError {
            input: s.to_string(),
        };
        let months = |part: &str| -> Option<u32> {
            let part = part.trim();
            let unit = part.chars().last()?;
            let n: u32 = part[..part.len() - unit.len_utf8()].trim().parse().ok()?;
            let m = match unit.to_ascii_lowercase() {
                'm' => Some(n),
                'y' => n.checked_mul(12),
                _ => None,
            }?;
            (m > 0).then_some(m)
        };
        let (train, test) = s.split_once(':').ok_or_else(err)?;
        Ok(WindowSpec {
            train_months: months(train).ok_or_else(err)?,
            test_months: months(test).ok_or_else(err)?,
        })
    }
}

/// One event of a walk-forward: its entry date and what each profile would have traded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardEvent {
    /// The entry date (windows are cut on it).
    pub entry_date: NaiveDate,
    /// One slot per profile, in profile order (`None`: that profile would not trade it).
    pub trades: Vec<Option<Trade>>,
}

/// One walk-forward step. Ranges are half-open: `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardWindow {
    /// First training day.
    pub train_from: NaiveDate,
    /// Day after the last training day.
    pub train_to: NaiveDate,
    /// First test day (= `train_to`).
    pub test_from: NaiveDate,
    /// Day after the last test day.
    pub test_to: NaiveDate,
    /// The profile chosen on training (`None`: no profile traded in the window, nothing
    /// tested).
    pub chosen_profile: Option<String>,
    /// The chosen profile's trades entered in the test range.
    pub trades: Vec<Trade>,
}

/// A walk-forward's windows and its out-of-sample result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForward {
    /// Windows in date order.
    pub windows: Vec<WalkForwardWindow>,
    /// Summary of every test trade of every window.
    pub out_of_sample: Summary,
}

/// Why a walk-forward cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkForwardError {
    /// A zero training or test length.
    #[error("training and test lengths must be above zero (got {train_months}m:{test_months}m)")]
    ZeroLength {
        /// Training months.
        train_months: u32,
        /// Test months.
        test_months: u32,
    },
    /// No profiles.
    #[error("no profiles to choose from")]
    NoProfiles,
    /// An event without one slot per profile.
    #[error("event {index} has {slots} trade slots for {profiles} profiles")]
    SlotCount {
        /// Event index.
        index: usize,
        /// Its slots.
        slots: usize,
        /// Profiles.
        profiles: usize,
    },
    /// Events not in entry-date order.
    #[error("event {index} ({date}) is earlier than the event before it")]
    NotSorted {
        /// Event index.
        index: usize,
        /// Its date.
        date: NaiveDate,
    },
    /// A window end beyond the calendar.
    #[error("window date out of range")]
    DateOverflow,
}

/// Walk-forward choice among `profiles`: windows start at the first event's entry date and roll
/// by `test_months`; on each training window `[train_from, train_to)` the profile with the
/// highest total P&L per contract wins (ties: the lower profile index), counting only trades
/// already closed before the test starts (`exit_date < test_from`, no look-ahead); that
/// profile's trades entered in `[test_from, test_from + test_months)` are reported. Windows
/// continue while the test start is on or before the last event.
///
/// # Errors
/// [`WalkForwardError`] for zero lengths, no profiles, events not sorted by entry date or
/// without one slot per profile.
pub fn walk_forward<S: AsRef<str>>(
    events: &[WalkForwardEvent],
    train_months: u32,
    test_months: u32,
    profiles: &[S],
) -> Result<WalkForward, WalkForwardError> {
    if train_months == 0 || test_months == 0 {
        return Err(WalkForwardError::ZeroLength {
            train_months,
            test_months,
        });
    }
    if profiles.is_empty() {
        return Err(WalkForwardError::NoProfiles);
    }
    for (i, e) in events.iter().enumerate() {
        if e.trades.len() != profiles.len() {
            return Err(WalkForwardError::SlotCount {
                index: i,
                slots: e.trades.len(),
                profiles: profiles.len(),
            });
        }
        if i > 0 && e.entry_date < events[i - 1].entry_date {
            return Err(WalkForwardError::NotSorted {
                index: i,
                date: e.entry_date,
            });
        }
    }
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(WalkForward {
            windows: Vec::new(),
            out_of_sample: summarize::<Trade>(&[]),
        });
    };
    let (first, last) = (first.entry_date, last.entry_date);
    // Every boundary from the first date (not step by step), so month-end clamping never drifts.
    let add = |months: u64| -> Result<NaiveDate, WalkForwardError> {
        let m = u32::try_from(months).map_err(|_| WalkForwardError::DateOverflow)?;
        first
            .checked_add_months(Months::new(m))
            .ok_or(WalkForwardError::DateOverflow)
    };
    let start_of = |d: NaiveDate| events.partition_point(|e| e.entry_date < d);
    let mut windows = Vec::new();
    let mut totals = vec![0.0f64; profiles.len()];
    let mut traded = vec![false; profiles.len()];
    for k in 0u64.. {
        let step = k * u64::from(test_months);
        let test_from = add(step + u64::from(train_months))?;
        if test_from > last {
            break;
        }
        let train_from = add(step)?;
        let test_to = add(step + u64::from(train_months) + u64::from(test_months))?;
        totals.fill(0.0);
        traded.fill(false);
        for e in &events[start_of(train_from)..start_of(test_from)] {
            for (p, t) in e.trades.iter().enumerate() {
                if let Some(t) = t
                    && t.exit_date < test_from
                {
                    totals[p] += t.pnl_per_contract;
                    traded[p] = true;
                }
            }
        }
        let mut best: Option<usize> = None;
        for p in (0..profiles.len()).filter(|&p| traded[p]) {
            // Strictly better only: ties keep the lower index; a NaN total never wins.
            if best.is_none_or(|b| totals[p] > totals[b]) {
                best = Some(p);
            }
        }
        let trades = match best {
            Some(p) => events[start_of(test_from)..start_of(test_to)]
                .iter()
                .filter_map(|e| e.trades[p].clone())
                .collect(),
            None => Vec::new(),
        };
        windows.push(WalkForwardWindow {
            train_from,
            train_to: test_from,
            test_from,
            test_to,
            chosen_profile: best.map(|p| profiles[p].as_ref().to_string()),
            trades,
        });
    }
    let oos: Vec<&Trade> = windows.iter().flat_map(|w| &w.trades).collect();
    let out_of_sample = summarize(&oos);
    Ok(WalkForward {
        windows,
        out_of_sample,
    })
}
