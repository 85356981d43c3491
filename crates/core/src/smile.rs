//! Out-of-the-money implied vols of one expiry: the raw material of the ATM vol, the term
//! structure and the skew.
//!
//! US single-stock options are American; their out-of-the-money side carries (almost) no early
//! exercise premium, so each strike is solved from the OTM option's mid: puts below the forward,
//! calls at or above it. Quotes with bid = 0, ask ≤ bid or no time value are skipped.

use crate::iv::implied_vol;
use crate::pricing::{OptionParams, bsm_greeks};
use crate::stats::lerp;
use crate::types::{OptionChain, OptionKind};
use serde::{Deserialize, Serialize};

/// One strike's implied vol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmilePoint {
    /// Strike.
    pub strike: f64,
    /// Log-moneyness `ln(K/F)`.
    pub k: f64,
    /// Implied vol of the OTM option's mid.
    pub iv: f64,
    /// Vega per 1.00 of vol (the fit weight).
    pub vega: f64,
    /// The option solved.
    pub kind: OptionKind,
}

/// Market inputs shared by every strike of one expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpiryMarket {
    /// Spot.
    pub spot: f64,
    /// Calendar years to expiry.
    pub t: f64,
    /// Risk-free rate (continuous).
    pub rate: f64,
    /// Dividend yield (continuous).
    pub div: f64,
}

impl ExpiryMarket {
    /// Forward price.
    pub fn forward(&self) -> f64 {
        self.spot * ((self.rate - self.div) * self.t).exp()
    }
}

/// The OTM smile of `chain`, sorted by strike. Strikes without a usable OTM quote are skipped.
pub fn otm_smile(chain: &OptionChain, m: &ExpiryMarket) -> Vec<SmilePoint> {
    let f = m.forward();
    let mut out: Vec<SmilePoint> = chain
        .quotes
        .iter()
        .filter(|q| {
            let otm = match q.kind {
                OptionKind::Put => q.strike < f,
                OptionKind::Call => q.strike >= f,
            };
            otm && q.is_valid()
        })
        .filter_map(|q| {
            let p = OptionParams::new(q.kind, m.spot, q.strike, m.t, m.rate, m.div).ok()?;
            let iv = implied_vol(&p, q.mid()).ok()?;
            let g = bsm_greeks(&p, iv);
            Some(SmilePoint {
                strike: q.strike,
                k: (q.strike / f).ln(),
                iv,
                vega: g.vega,
                kind: q.kind,
            })
        })
        .collect();
    out.sort_by(|a, b| a.strike.total_cmp(&b.strike));
    out.dedup_by(|a, b| a.strike == b.strike);
    out
}

/// ATM-forward implied vol: the smile interpolated linearly in log-moneyness at `k = 0`
/// (the nearest point when the forward lies outside the strikes). `None` for an empty smile.
pub fn atm_vol(smile: &[SmilePoint]) -> Option<f64> {
    let hi = smile.iter().position(|p| p.k >= 0.0);
    match hi {
        Some(0) => smile.first().map(|p| p.iv),
        Some(i) => {
            let (a, b) = (&smile[i - 1], &smile[i]);
            Some(lerp(a.k, a.iv, b.k, b.iv, 0.0))
        }
        None => smile.last().map(|p| p.iv),
    }
}
