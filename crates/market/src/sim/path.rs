//! Daily bars with earnings jumps, and the report schedule.
//!
//! Each trading day draws a diffusion return `ε·σ/√252 − σ²/504` (σ the ticker's realised
//! diffusion vol) plus a weak pull of the log price towards its initial level (half-life about
//! 1.4 years, so that seven years of history keep prices in a realistic band instead of drifting
//! to pennies); 30 % of the return happens overnight and 70 % during the session. On a reaction day a
//! log-jump `J ~ N(0, jump_std²)` is added to the overnight gap. High and low extend the
//! open–close range by half-normal amounts. Paths start at [`epoch`](super::universe::epoch)
//! and depend only on (seed, symbol), so a later as-of date extends the same history.

use super::hash::hash;
use super::universe::{TickerParams, epoch};
use chrono::{Datelike, Duration, NaiveDate};
use ivcrush_core::calendar::{is_trading_day, this_or_next_trading_day};
use ivcrush_core::moves::reaction_date;
use ivcrush_core::{Bar, EarningsEvent};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// One simulated report with what really happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    /// Report date and timing.
    pub event: EarningsEvent,
    /// The session that reacts.
    pub reaction_date: NaiveDate,
    /// The log-jump drawn for the reaction (0 until the reaction is simulated).
    pub jump: f64,
    /// The reaction day's signed close-to-close move in percent (what history statistics see).
    pub signed_close_move_pct: f64,
}

/// A ticker's simulated history through some date.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerPath {
    /// Bars, oldest first, one per trading day from the epoch.
    pub bars: Vec<Bar>,
    /// Reports whose reaction day lies within the bars.
    pub reports: Vec<SimReport>,
}

const BASE_VOLUME: [f64; 5] = [30e6, 8e6, 2e6, 5e5, 1e5];
/// Mean-reversion speed of the log price per year.
const MEAN_REVERSION: f64 = 0.5;

/// Report dates of the ticker from the epoch's quarter through `until` (inclusive), each a
/// fixed offset after a quarter's end, moved to a trading day.
pub fn report_schedule(p: &TickerParams, until: NaiveDate) -> Vec<EarningsEvent> {
    let mut out = Vec::new();
    let mut year = epoch().year() - 1;
    loop {
        for (m, d) in [(3, 31), (6, 30), (9, 30), (12, 31)] {
            let Some(qe) = NaiveDate::from_ymd_opt(year, m, d) else {
                continue;
            };
            let date =
                this_or_next_trading_day(qe + Duration::days(i64::from(p.report_offset_days)));
            if date > until {
                return out;
            }
            if date >= epoch() {
                out.push(EarningsEvent {
                    date,
                    timing: p.timing,
                });
            }
        }
        year += 1;
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Generates the path from the epoch through `through` (inclusive).
pub fn generate(p: &TickerParams, seed: u64, through: NaiveDate) -> TickerPath {
    let mut rng =
        ChaCha8Rng::seed_from_u64(hash(&[b"path", p.symbol.as_bytes(), &seed.to_le_bytes()]));
    let schedule = report_schedule(p, through);
    let mut reports: Vec<SimReport> = schedule
        .iter()
        .map(|e| SimReport {
            event: *e,
            reaction_date: reaction_date(e),
            jump: 0.0,
            signed_close_move_pct: 0.0,
        })
        .filter(|r| r.reaction_date <= through)
        .collect();
    let daily_sd = p.diffusion_vol / 252f64.sqrt();
    let drift = -0.5 * daily_sd * daily_sd;
    let mut bars = Vec::with_capacity(1800);
    let mut prev_close = p.initial_price;
    let mut day = epoch();
    let mut next_report = 0;
    while day <= through {
        if is_trading_day(day) {
            let e: f64 = rng.sample(StandardNormal);
            let hi_n: f64 = rng.sample::<f64, _>(StandardNormal).abs();
            let lo_n: f64 = rng.sample::<f64, _>(StandardNormal).abs();
            let vol_n: f64 = rng.sample(StandardNormal);
            let pull = -MEAN_REVERSION / 252.0 * (prev_close / p.initial_price).ln();
            let diffusion = pull + drift + daily_sd * e;
            let mut jump = 0.0;
            let reacting = reports
                .get(next_report)
                .is_some_and(|r| r.reaction_date == day);
            if reacting {
                let z: f64 = rng.sample(StandardNormal);
                jump = z * p.jump_std;
            }
            let open = round_cents(prev_close * (0.3 * diffusion + jump).exp()).max(0.01);
            let close = round_cents(open * (0.7 * diffusion).exp()).max(0.01);
            let range = 0.5 * daily_sd * (1.0 + 4.0 * jump.abs() / p.jump_std.max(1e-9) * 0.1);
            let high = round_cents(open.max(close) * (range * hi_n).exp());
            let low = round_cents(open.min(close) * (-range * lo_n).exp()).max(0.01);
            let mut volume = BASE_VOLUME[p.liquidity_class.min(4)] * (0.3 * vol_n).exp();
            if reacting {
                volume *= 3.0;
                let r = &mut reports[next_report];
                r.jump = jump;
                r.signed_close_move_pct = (close / prev_close - 1.0) * 100.0;
                next_report += 1;
            }
            bars.push(Bar {
                date: day,
                open,
                high,
                low,
                close,
                volume: volume as u64,
            });
            prev_close = close;
        }
        day += Duration::days(1);
    }
    TickerPath { bars, reports }
}
