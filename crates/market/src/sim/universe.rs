//! The universe of made-up tickers and their parameters.
//!
//! The universe does not depend on the seed: names, sectors and parameters are derived from each
//! ticker's name by a stable hash, so "KVLT" is always the same kind of stock. The seed drives
//! the random paths and the jumps.
//!
//! It holds the 60 named tickers by default. Load tests need more: [`set_size`] (the binary's
//! `sim.universe_size`) sets the size of the process's universe; the first 60 are always the
//! named ones (unchanged), the others are generated (`SMAAA`, `SMAAB`, … with hashed sectors and
//! liquidity classes), so that a ticker is the same stock whatever the size.

use super::hash::unit;
use chrono::NaiveDate;
use ivcrush_core::Timing;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Tickers of the default universe (the named ones).
pub const DEFAULT_SIZE: usize = NAMES.len();

/// Prefix of the generated tickers (no named ticker starts with it).
const GENERATED_PREFIX: &str = "SM";
/// Letters after the prefix of a generated ticker.
const GENERATED_LETTERS: u32 = 3;

/// Largest universe: the named tickers and every generated one.
pub const MAX_SIZE: usize = NAMES.len() + 26usize.pow(GENERATED_LETTERS);

/// Sectors of the generated tickers.
const SECTORS: [&str; 11] = [
    "Technology",
    "Consumer",
    "Financials",
    "Industrials",
    "Communication",
    "Healthcare",
    "Energy",
    "Materials",
    "Utilities",
    "Real Estate",
    "Consumer Staples",
];

/// Size of the process's universe ([`set_size`]).
static SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_SIZE);

/// A universe size outside `1..=MAX_SIZE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the simulated universe holds 1 to {MAX_SIZE} tickers (got {0})")]
pub struct UniverseSizeError(pub usize);

/// Sets the number of tickers of the process's simulated universe (default [`DEFAULT_SIZE`]);
/// every simulated market, calendar and quote of the process then sees that many.
///
/// # Errors
/// [`UniverseSizeError`] outside `1..=MAX_SIZE`.
pub fn set_size(size: usize) -> Result<(), UniverseSizeError> {
    check_size(size)?;
    SIZE.store(size, Ordering::Relaxed);
    Ok(())
}

/// Whether `size` is a possible universe size.
///
/// # Errors
/// [`UniverseSizeError`] outside `1..=MAX_SIZE`.
pub fn check_size(size: usize) -> Result<(), UniverseSizeError> {
    if (1..=MAX_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(UniverseSizeError(size))
    }
}

/// Number of tickers of the process's universe.
pub fn size() -> usize {
    SIZE.load(Ordering::Relaxed)
}

/// The generated tickers, in order (built once, on first use).
fn generated() -> &'static [String] {
    static GENERATED: OnceLock<Vec<String>> = OnceLock::new();
    GENERATED.get_or_init(|| {
        (0..MAX_SIZE - NAMES.len())
            .map(|i| {
                let mut name = String::from(GENERATED_PREFIX);
                for k in (0..GENERATED_LETTERS).rev() {
                    let digit = (i / 26usize.pow(k)) % 26;
                    name.push(char::from(b'A' + digit as u8));
                }
                name
            })
            .collect()
    })
}

/// Position of a generated ticker (`SMAAA` is the first after the named ones).
fn generated_index(symbol: &str) -> Option<usize> {
    let letters = symbol.strip_prefix(GENERATED_PREFIX)?;
    if letters.len() != GENERATED_LETTERS as usize {
        return None;
    }
    letters
        .bytes()
        .try_fold(0usize, |acc, b| {
            b.is_ascii_uppercase()
                .then(|| acc * 26 + usize::from(b - b'A'))
        })
        .map(|i| NAMES.len() + i)
}

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
    let (symbol, sector, liquidity_class) = match NAMES.get(index) {
        Some(&(symbol, sector)) => (symbol, sector, index / (NAMES.len() / LIQUIDITY_CLASSES)),
        None => {
            let symbol = generated()[index - NAMES.len()].as_str();
            let u = |salt: u64| unit(&[b"generated", symbol.as_bytes(), &salt.to_le_bytes()]);
            let sector = SECTORS[((u(1) * SECTORS.len() as f64) as usize).min(SECTORS.len() - 1)];
            let class = ((u(2) * LIQUIDITY_CLASSES as f64) as usize).min(LIQUIDITY_CLASSES - 1);
            (symbol, sector, class)
        }
    };
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
        liquidity_class,
        timing: if u(6) < 0.5 { Timing::Bmo } else { Timing::Amc },
        report_offset_days: 10 + (u(7) * 76.0) as u32,
    }
}

/// Every ticker of the process's universe ([`size`]): the named ones most liquid first, then
/// the generated ones.
pub fn universe() -> Vec<TickerParams> {
    universe_of(size())
}

/// The parameters of one symbol of the process's universe (exact, upper-case match).
pub fn ticker(symbol: &str) -> Option<TickerParams> {
    ticker_in(symbol, size())
}

/// The first `size` tickers (at most [`MAX_SIZE`]).
pub fn universe_of(size: usize) -> Vec<TickerParams> {
    (0..size.min(MAX_SIZE)).map(params).collect()
}

/// The parameters of `symbol` when it is among the first `size` tickers.
pub fn ticker_in(symbol: &str, size: usize) -> Option<TickerParams> {
    NAMES
        .iter()
        .position(|(s, _)| *s == symbol)
        .or_else(|| generated_index(symbol))
        .filter(|&i| i < size.min(MAX_SIZE))
        .map(params)
}

/// First day of the simulated history.
pub fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 2).expect("valid date")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_universe_is_the_sixty_named_tickers() {
        let u = universe_of(DEFAULT_SIZE);
        assert_eq!(u.len(), 60);
        assert_eq!(u[0].symbol, "AXON");
        assert_eq!(u[59].symbol, "HALO");
        assert_eq!(u[59].liquidity_class, 4);
        assert!(ticker_in("SMAAA", DEFAULT_SIZE).is_none());
    }

    #[test]
    fn a_larger_universe_keeps_the_named_tickers_and_generates_distinct_ones() {
        let u = universe_of(2_000);
        assert_eq!(u.len(), 2_000);
        assert_eq!(
            u[..60],
            universe_of(60)[..],
            "the named tickers are unchanged"
        );
        assert_eq!(u[60].symbol, "SMAAA");
        assert_eq!(u[61].symbol, "SMAAB");
        let distinct: std::collections::HashSet<_> = u.iter().map(|p| p.symbol).collect();
        assert_eq!(distinct.len(), 2_000);
        for (i, p) in u.iter().enumerate() {
            assert_eq!(p.index, i);
            assert!(p.liquidity_class < LIQUIDITY_CLASSES);
            assert_eq!(ticker_in(p.symbol, 2_000).as_ref(), Some(p), "{}", p.symbol);
        }
        assert!(
            ticker_in(u[1_999].symbol, 1_999).is_none(),
            "outside a smaller universe"
        );
        let last = universe_of(MAX_SIZE);
        assert_eq!(last.len(), MAX_SIZE);
        assert_eq!(last[MAX_SIZE - 1].symbol, "SMZZZ");
    }

    #[test]
    fn sizes_outside_the_bounds_are_refused() {
        assert_eq!(set_size(0), Err(UniverseSizeError(0)));
        assert_eq!(set_size(MAX_SIZE + 1), Err(UniverseSizeError(MAX_SIZE + 1)));
        assert_eq!(size(), DEFAULT_SIZE, "a refused size changes nothing");
    }
}
