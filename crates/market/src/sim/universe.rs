//! The fixed universe of made-up tickers and their parameters.
//!
//! The universe does not depend on the seed: names, sectors and parameters are derived from each
//! ticker's name by a stable hash, so "KVLT" is always the same kind of stock. The seed drives
//! the random paths and the jumps.

use super::hash::unit;
use chrono::NaiveDate;
use ivcrush_core::Timing;
use serde::{Deserialize, Serialize};

/// Names and sectors, ordered from the most to the least liquid (12 per liquidity class).
const NAMES: [(&str, &str); 60] = [
    ("AXON", "Technology"),
    ("BLRK", "Technology"),
    ("CRVX", "Consumer"),
    ("DYNM", "Financials"),
    ("ELVO", "Technology"),
    ("FRGE", "Industrials"),
    ("GLXY", "Communication"),
    ("HLIX", "Healthcare"),
    ("IONQ", "Technology"),
    ("JUNO", "Consumer"),
    ("KRTO", "Energy"),
    ("LUMN", "Technology"),
    ("MRVL", "Technology"),
    ("NOVA", "Healthcare"),
    ("ORBT", "Industrials"),
    ("PLSR", "Financials"),
    ("QNTM", "Technology"),
    ("RDNT", "Healthcare"),
    ("SOLR", "Energy"),
    ("TRVL", "Consumer"),
    ("ULTR", "Materials"),
    ("VRTX", "Healthcare"),
    ("WAVE", "Communication"),
    ("XCEL", "Utilities"),
    ("YIELD", "Financials"),
    ("ZENT", "Technology"),
    ("ACRN", "Consumer"),
    ("BRZE", "Technology"),
    ("CNDR", "Industrials"),
    ("DRFT", "Consumer"),
    ("EMBR", "Energy"),
    ("FLUX", "Technology"),
    ("GRVT", "Materials"),
    ("HRBR", "Financials"),
    ("INKD", "Communication"),
    ("JOLT", "Utilities"),
    ("KVLT", "Technology"),
    ("LNTR", "Consumer"),
    ("MSTC", "Healthcare"),
    ("NMBL", "Technology"),
    ("OPAL", "Materials"),
    ("PRSM", "Industrials"),
    ("QUIL", "Communication"),
    ("RIFT", "Energy"),
    ("SAGE", "Healthcare"),
    ("TIDE", "Consumer"),
    ("UMBR", "Financials"),
    ("VNTR", "Technology"),
    ("WRKS", "Industrials"),
    ("XENO", "Healthcare"),
    ("YARD", "Real Estate"),
    ("ZPHR", "Consumer"),
    ("ARGO.B", "Financials"),
    ("BOLT", "Industrials"),
    ("CRUX", "Technology"),
    ("DUNE", "Energy"),
    ("ECHO", "Communication"),
    ("FERN", "Consumer"),
    ("GUST", "Utilities"),
    ("HALO", "Healthcare"),
];

/// Liquidity class 0 (very liquid) … 4 (illiquid).
pub const LIQUIDITY_CLASSES: usize = 5;

/// One simulated ticker's parameters (the ground truth behind its data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickerParams {
    /// Symbol.
    pub symbol: &'static str,
    /// Sector.
    pub sector: &'static str,
    /// Position in the universe (0 = most liquid).
    pub index: usize,
    /// Price on the path's first day.
    pub initial_price: f64,
    /// Realised diffusion volatility, annualised in trading-day time.
    pub diffusion_vol: f64,
    /// Standard deviation of the log-jump on each reaction day (the realised event size).
    pub jump_std: f64,
    /// How much the options overprice the event: implied event σ = `jump_std × premium`.
    pub event_premium: f64,
    /// Implied diffusion vol the options carry (a small premium over realised).
    pub implied_diffusion_vol: f64,
    /// Smile slope per unit log-moneyness (negative: put skew).
    pub skew_slope: f64,
    /// Smile curvature per unit log-moneyness squared.
    pub skew_curvature: f64,
    /// 0 (very liquid) … 4 (illiquid).
    pub liquidity_class: usize,
    /// Report timing (fixed per ticker).
    pub timing: Timing,
    /// Report day offset after each quarter's end (calendar days).
    pub report_offset_days: u32,
}

impl TickerParams {
    /// Implied event standard deviation priced into the chains.
    pub fn implied_jump_std(&self) -> f64 {
        self.jump_std * self.event_premium
    }
}

fn params(index: usize) -> TickerParams {
    let (symbol, sector) = NAMES[index];
    let u = |salt: u64| unit(&[b"universe", symbol.as_bytes(), &salt.to_le_bytes()]);
    let diffusion_vol = 0.18 + 0.45 * u(2);
    TickerParams {
        symbol,
        sector,
        index,
        initial_price: 20.0 * 25f64.powf(u(1)),
        diffusion_vol,
        jump_std: 0.025 + 0.075 * u(3),
        event_premium: 0.85 + 1.35 * u(8),
        implied_diffusion_vol: diffusion_vol * 1.08,
        skew_slope: -(0.10 + 0.30 * u(4)),
        skew_curvature: 0.4 + 1.4 * u(5),
        liquidity_class: index / (NAMES.len() / LIQUIDITY_CLASSES),
        timing: if u(6) < 0.5 { Timing::Bmo } else { Timing::Amc },
        report_offset_days: 10 + (u(7) * 76.0) as u32,
    }
}

/// Every ticker of the universe, most liquid first.
pub fn universe() -> Vec<TickerParams> {
    (0..NAMES.len()).map(params).collect()
}

/// The parameters of one symbol (exact, upper-case match).
pub fn ticker(symbol: &str) -> Option<TickerParams> {
    NAMES.iter().position(|(s, _)| *s == symbol).map(params)
}

/// First day of the simulated history.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 2).expect("valid date")
}
