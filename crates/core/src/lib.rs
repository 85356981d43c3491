//! # ivcrush-core — the pure analytics core
//!
//! Everything ivcrush decides is computed here, from numbers handed in by the caller: no I/O, no
//! async, no clock, no randomness. Callers pass the as-of date, quotes and bars; the core returns
//! typed results or typed errors (never a silent `NaN`, never a panic on bad data).
//!
//! Main entry points:
//! - [`pricing`]: Black–Scholes–Merton on the forward with careful tails ([`bsm_price`],
//!   [`bsm_greeks`]);
//! - [`iv`]: implied volatility at machine precision ([`implied_vol`]), typed failures
//!   ([`IvError`]);
//! - [`calendar`]: the NYSE trading calendar (holidays, half days, trading-day time from the
//!   as-of instant);
//! - [`forward`]: each expiry's forward from put–call parity of its own chain;
//! - [`implied_move`]: event-expiry selection, straddle / interpolated / term-structure event move
//!   (a least-squares fit over every expiry in a window, a pre-event expiry included);
//! - [`moves`]: historical earnings moves and their robust statistics;
//! - [`realized`]: realized-volatility estimators (and the record's 20/60-session windows with and
//!   without the earnings reaction sessions);
//! - [`uncertainty`]: confidence intervals on the historical mean move and the VRP ratio;
//! - [`vrp`], [`skew`], [`term`], [`liquidity`], [`score`]: the signals and the decision;
//! - [`strategy`]: short straddle, strangle, iron condor and credit verticals with breakevens, max
//!   loss, probability of profit and expected P&L;
//! - [`backtest`]: settlement of a traded strategy at the reaction close or at expiry, trade
//!   records, summaries (win rate, drawdown, POP calibration) and a walk-forward profile choice;
//! - [`config`]: every threshold and weight in one validated, serde-deserialisable place.
//!
//! Key decision: implied volatility wraps the `implied-vol` crate (Jäckel's "Let's Be Rational",
//! two iterations to full precision; measured speed in `BENCHMARKS.md`) rather than a hand-written Newton solver, which
//! loses digits or diverges on deep out-of-the-money and short-dated quotes. Prices use the same
//! crate's normalised Black function, which keeps relative accuracy far into the tails.
//!
//! Units: volatilities and rates are decimal fractions (0.25 = 25 %), `T` is in years,
//! percentages carried in [`Pct`] are in percent (5.12 = 5.12 %).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Input checks are written `!(x > 0.0)` on purpose: unlike `x <= 0.0` they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod analysis;
pub mod backtest;
pub mod calendar;
pub mod config;
pub mod exit;
pub mod forward;
pub mod implied_move;
pub mod iv;
pub mod liquidity;
pub mod moves;
pub mod pricing;
pub mod quality;
pub mod realized;
pub mod score;
pub mod skew;
pub mod smile;
pub mod stats;
pub mod strategy;
pub mod symbol;
pub mod term;
pub mod types;
pub mod uncertainty;
pub mod vrp;

pub use analysis::{
    Analysis, AnalysisError, AnalysisInput, LiveImpliedMove, analyze, live_implied_move,
};
pub use backtest::{
    SettleError, Summary, Trade, TradeCosts, TradeExit, TradeResult, WalkForward, settle,
    summarize, walk_forward,
};
pub use config::{AnalyticsConfig, ConfigError};
pub use iv::{IvError, implied_vol};
pub use pricing::{Greeks, InputError, OptionParams, bsm_greeks, bsm_price};
pub use quality::{DataQuality, GateConfig, GateError, QualityCode};
pub use symbol::{Symbol, SymbolError};
pub use types::{
    Bar, ChainProvenance, EarningsEvent, NonFiniteError, OptionChain, OptionKind, OptionQuote, Pct,
    Timing,
};
