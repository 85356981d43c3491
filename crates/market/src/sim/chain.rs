//! Option chains priced from the ticker's vol surface.
//!
//! Total implied variance to an expiry is `w = σ_d²·τ + n·(implied jump σ)²`, with `τ` in
//! trading-day time from the quote instant (the time left of the current session plus the
//! sessions after it, the analytics' own clock: spec §2) and `n` the number of reactions between
//! now and the expiry; it is quoted as a calendar-time vol `σ_ATM = √(w / T)`. The smile around it is
//! `σ(k) = σ_ATM + s·k + c·k²` with `k = ln(K/F)`. Prices are Black–Scholes (European, no
//! dividends, rate [`RATE`]); bid and ask straddle the model price on a penny (< $3) or nickel grid
//! with a spread set by the liquidity class and widening away from the money; volume and open
//! interest fall off with moneyness and rise into the event.

use super::hash::unit;
use super::universe::TickerParams;
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::calendar::{calendar_years, trading_years_at};
use ivcrush_core::{OptionChain, OptionKind, OptionParams, OptionQuote, bsm_price};

/// The simulated risk-free rate (continuous).
pub const RATE: f64 = 0.043;

/// Spread as a fraction of the price, by liquidity class, at the money.
const SPREAD_FRACTION: [f64; 5] = [0.015, 0.04, 0.08, 0.13, 0.30];
/// Open interest at the money, by liquidity class.
const BASE_OI: [f64; 5] = [25_000.0, 6_000.0, 1_500.0, 400.0, 60.0];
/// Daily option volume at the money, by liquidity class.
const BASE_VOLUME: [f64; 5] = [9_000.0, 1_500.0, 350.0, 70.0, 6.0];

/// Strike spacing for a price level.
pub fn strike_step(spot: f64) -> f64 {
    match spot {
        s if s < 25.0 => 0.5,
        s if s < 50.0 => 1.0,
        s if s < 150.0 => 2.5,
        s if s < 400.0 => 5.0,
        _ => 10.0,
    }
}

/// Everything needed to price one expiry.
#[derive(Debug, Clone, Copy)]
pub struct SurfaceInputs<'a> {
    /// Ticker parameters.
    pub params: &'a TickerParams,
    /// Spot.
    pub spot: f64,
    /// Quote instant.
    pub as_of: DateTime<Utc>,
    /// Quote session date.
    pub session: NaiveDate,
    /// Reaction days of upcoming reports (after the session).
    pub upcoming_reactions: &'a [NaiveDate],
    /// Seed, for volume and open interest noise.
    pub seed: u64,
}

/// ATM implied vol (calendar time) of an expiry, with the event variance it carries: the truth
/// the analytics must recover (ex-event vol `σ_d·√(τ/T)`, event variance `(implied jump σ)²`).
pub fn atm_vol(inp: &SurfaceInputs<'_>, expiration: NaiveDate) -> Option<f64> {
    let t = calendar_years(inp.as_of, expiration);
    if t <= 0.0 {
        return None;
    }
    let tau = trading_years_at(inp.as_of, expiration);
    let events = inp
        .upcoming_reactions
        .iter()
        .filter(|d| **d > inp.session && **d <= expiration)
        .count() as f64;
    let p = inp.params;
    let w = p.implied_diffusion_vol.powi(2) * tau + events * p.implied_jump_std().powi(2);
    Some((w / t).sqrt())
}

fn round_to(x: f64, tick: f64) -> f64 {
    (x / tick).round() * tick
}

/// The chain of one expiry (empty when it has expired).
pub fn chain(inp: &SurfaceInputs<'_>, expiration: NaiveDate) -> OptionChain {
    let mut quotes = Vec::new();
    let p = inp.params;
    let Some(sigma) = atm_vol(inp, expiration) else {
        return OptionChain::new(expiration, quotes);
    };
    let t = calendar_years(inp.as_of, expiration);
    let forward = inp.spot * (RATE * t).exp();
    let step = strike_step(inp.spot);
    let half_width = ((3.5 * sigma * t.sqrt() + 0.06) * inp.spot).min(0.45 * inp.spot);
    let n = ((half_width / step).ceil() as i64).clamp(4, 24);
    let centre = (inp.spot / step).round() as i64;
    let class = p.liquidity_class.min(4);
    let near_event = inp
        .upcoming_reactions
        .iter()
        .any(|d| *d > inp.session && *d <= expiration);
    for i in -n..=n {
        let strike = ((centre + i) as f64 * step * 100.0).round() / 100.0;
        if strike <= 0.0 {
            continue;
        }
        let k = (strike / forward).ln();
        let vol = (sigma + p.skew_slope * k + p.skew_curvature * k * k).max(0.05);
        for kind in [OptionKind::Call, OptionKind::Put] {
            let Ok(op) = OptionParams::new(kind, inp.spot, strike, t, RATE, 0.0) else {
                continue;
            };
            let model = bsm_price(&op, vol);
            let tick = if model < 3.0 { 0.01 } else { 0.05 };
            let spread = (model * SPREAD_FRACTION[class] * (1.0 + 6.0 * k.abs())).max(tick);
            let ticks = (spread / tick).round().max(1.0);
            // Centre the quote on the model price: mid = model within half a tick.
            let bid = round_to(model - 0.5 * ticks * tick, tick).max(0.0);
            let bid = (bid * 100.0).round() / 100.0;
            let ask = if bid > 0.0 {
                ((bid + ticks * tick) * 100.0).round() / 100.0
            } else {
                ((model + 0.5 * ticks * tick).max(tick) / tick).ceil() * tick
            };
            let ask = (ask * 100.0).round() / 100.0;
            let noise = |salt: &[u8]| {
                unit(&[
                    salt,
                    p.symbol.as_bytes(),
                    &inp.seed.to_le_bytes(),
                    expiration.to_string().as_bytes(),
                    &strike.to_bits().to_le_bytes(),
                    kind.as_str().as_bytes(),
                    inp.session.to_string().as_bytes(),
                ])
            };
            let fall = (-7.0 * k.abs()).exp();
            let oi = BASE_OI[class] * fall * (0.6 + 0.8 * noise(b"oi"));
            let boost = if near_event { 2.0 } else { 1.0 };
            let volume = BASE_VOLUME[class] * (-9.0 * k.abs()).exp() * boost * (0.5 + noise(b"v"));
            quotes.push(OptionQuote {
                kind,
                strike,
                bid,
                ask,
                last: (volume >= 1.0).then(|| ((bid + ask) * 50.0).round() / 100.0),
                volume: volume as u64,
                open_interest: oi as u64,
            });
        }
    }
    OptionChain::new(expiration, quotes)
}
