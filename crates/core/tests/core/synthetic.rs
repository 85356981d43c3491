//! A synthetic earnings market whose truth is known: chains priced from a term structure
//! `w = σ_d²·τ + E` (trading-day time from the as-of instant, the event in every expiry from the
//! reaction on), a quadratic smile in log-moneyness, and optionally a discrete dividend that
//! lowers the forward of every expiry after its ex-date. Quotes sit on a penny (< $3) or nickel
//! grid around the model price, as the vendor fixtures and the simulated market do. Shared by
//! the tests and the benchmarks.

#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::calendar::{calendar_years, trading_years_at};
use ivcrush_core::implied_move::SQRT_2_OVER_PI;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::{
    EarningsEvent, OptionChain, OptionKind, OptionParams, OptionQuote, Pct, Timing, bsm_price,
};

/// Five weekly expiries after the simulated reports of early 2026 (the golden and term
/// scenarios price chains on them).
pub const WEEKLIES: [&str; 5] = [
    "2026-01-30",
    "2026-02-06",
    "2026-02-13",
    "2026-02-20",
    "2026-02-27",
];

/// The market's parameters.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Quote instant.
    pub as_of: DateTime<Utc>,
    /// Spot.
    pub spot: f64,
    /// Risk-free rate (continuous).
    pub rate: f64,
    /// Diffusion vol, annualised in trading-day time.
    pub diffusion: f64,
    /// Event log-jump standard deviation.
    pub event_std: f64,
    /// The report.
    pub event: EarningsEvent,
    /// Smile slope and curvature per unit log-moneyness.
    pub smile: (f64, f64),
    /// A discrete cash dividend: ex-date and amount.
    pub dividend: Option<(NaiveDate, f64)>,
    /// Strike spacing and strikes on each side of the spot.
    pub strikes: (f64, i32),
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

impl Scenario {
    /// The vendor fixtures' week: as of Wed 2026-01-28 15:00 New York, report Thu 2026-01-29
    /// after the close, spot 100, 35 % diffusion, a 4 % event.
    pub fn week() -> Scenario {
        Scenario {
            as_of: "2026-01-28T20:00:00Z".parse().expect("instant"),
            spot: 100.0,
            rate: 0.04,
            diffusion: 0.35,
            event_std: 0.04,
            event: EarningsEvent {
                date: d("2026-01-29"),
                timing: Timing::Amc,
            },
            smile: (-0.25, 1.2),
            dividend: None,
            strikes: (1.0, 20),
        }
    }

    /// The expected absolute event move in percent: the truth of `event_pct`.
    pub fn event_pct(&self) -> f64 {
        100.0 * SQRT_2_OVER_PI * self.event_std
    }

    /// The true forward of an expiry (the dividend's present value taken out when it goes ex
    /// on or before the expiry).
    pub fn forward(&self, expiry: NaiveDate) -> f64 {
        let t = calendar_years(self.as_of, expiry);
        let pv_div = match self.dividend {
            Some((ex, amount)) if ex <= expiry => {
                amount * (-self.rate * calendar_years(self.as_of, ex).max(0.0)).exp()
            }
            _ => 0.0,
        };
        (self.spot - pv_div) * (self.rate * t).exp()
    }

    /// The true ATM vol (calendar-time quoting) of an expiry.
    pub fn atm_iv(&self, expiry: NaiveDate) -> f64 {
        let t = calendar_years(self.as_of, expiry);
        let tau = trading_years_at(self.as_of, expiry);
        let reaction = ivcrush_core::moves::reaction_date(&self.event);
        let e = if expiry >= reaction {
            self.event_std.powi(2)
        } else {
            0.0
        };
        ((self.diffusion.powi(2) * tau + e) / t).sqrt()
    }

    /// The chain of one expiry, European prices on the true forward.
    pub fn chain(&self, expiry: NaiveDate) -> OptionChain {
        let t = calendar_years(self.as_of, expiry);
        let f = self.forward(expiry);
        let sigma = self.atm_iv(expiry);
        // The forward folded into a yield, so that Black–Scholes–Merton prices on the spot are
        // Black prices on the forward.
        let q = self.rate - (f / self.spot).ln() / t;
        let (step, n) = self.strikes;
        let centre = (self.spot / step).round();
        let mut quotes = Vec::new();
        for i in -n..=n {
            let strike = (centre + f64::from(i)) * step;
            if strike <= 0.0 {
                continue;
            }
            let k = (strike / f).ln();
            let vol = (sigma + self.smile.0 * k + self.smile.1 * k * k).max(0.05);
            for kind in [OptionKind::Call, OptionKind::Put] {
                let p = OptionParams::new(kind, self.spot, strike, t, self.rate, q).expect("valid");
                let model = bsm_price(&p, vol);
                let tick = if model < 3.0 { 0.01 } else { 0.05 };
                let round = |x: f64| ((x / tick).round() * tick * 100.0).round() / 100.0;
                let bid = round(model - tick).max(0.0);
                let ask = round(bid + 2.0 * tick);
                quotes.push(OptionQuote {
                    kind,
                    strike,
                    bid,
                    ask,
                    last: None,
                    volume: 2000,
                    open_interest: 8000,
                });
            }
        }
        OptionChain::new(expiry, quotes)
    }

    /// Chains of several expiries.
    pub fn chains(&self, expiries: &[&str]) -> Vec<OptionChain> {
        expiries.iter().map(|e| self.chain(d(e))).collect()
    }
}

/// Twelve past reactions whose mean absolute close move is `mean_pct`.
pub fn history(mean_pct: f64) -> Vec<HistoricalMove> {
    let pattern = [
        1.0, -1.4, 0.6, -0.9, 1.8, -0.7, 0.4, -1.6, 1.2, -0.8, 0.9, -1.1,
    ];
    let mean = pattern.iter().map(|x: &f64| x.abs()).sum::<f64>() / pattern.len() as f64;
    pattern
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let s = x / mean * mean_pct;
            let date = d("2023-01-26") + chrono::Duration::days(91 * i as i64);
            HistoricalMove {
                report_date: date,
                timing: Timing::Amc,
                reaction_date: date + chrono::Duration::days(1),
                reference_close: 100.0,
                close_move_pct: Pct::new(s.abs()).expect("finite"),
                gap_move_pct: Pct::new(s.abs()).expect("finite"),
                intraday_move_pct: Pct::new(s.abs()).expect("finite"),
                signed_close_pct: Pct::new(s).expect("finite"),
            }
        })
        .collect()
}
