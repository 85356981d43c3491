//! Out-of-the-money implied vols of one expiry: the raw material of the ATM vol, the term
//! structure and the skew.
//!
//! US single-stock options are American; their out-of-the-money side carries (almost) no early
//! exercise premium, so each strike is solved from the OTM option's mid: puts below the forward,
//! calls at or above it. Quotes with bid = 0, ask ≤ bid or no time value are skipped.

use crate::iv::implied_vol;
use crate::pricing::{OptionParams, bsm_vega};
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
    /// The market of an expiry whose forward is known (implied by its chain): `div` becomes the
    /// implied carry `r − ln(F/S)/T`, so that every Black–Scholes–Merton price on `(S, r, div)`
    /// is the Black price on that forward discounted at `r` (a discrete dividend or borrow cost
    /// folded into one yield for this expiry). `t` must be > 0.
    pub fn with_forward(spot: f64, t: f64, rate: f64, forward: f64) -> ExpiryMarket {
        ExpiryMarket {
            spot,
            t,
            rate,
            div: rate - (forward / spot).ln() / t,
        }
    }

    /// Forward price.
    pub fn forward(&self) -> f64 {
        self.spot * ((self.rate - self.div) * self.t).exp()
    }
}

/// The OTM smile of `chain`, sorted by strike. Strikes without a usable OTM quote are skipped.
pub fn otm_smile(chain: &OptionChain, m: &ExpiryMarket) -> Vec<SmilePoint> {
    smile_of(chain, m, usize::MAX)
}

/// The OTM smile restricted to the `strikes` strikes nearest the forward (in log-moneyness):
/// all the ATM vol needs ([`atm_vol`] fits the seven nearest). Solving only those keeps a
/// many-expiry term structure cheap.
pub fn otm_smile_near(chain: &OptionChain, m: &ExpiryMarket, strikes: usize) -> Vec<SmilePoint> {
    smile_of(chain, m, strikes)
}

/// Candidates solved for an ATM vol: the fit's seven plus a margin for quotes that do not solve.
pub const ATM_CANDIDATES: usize = ATM_FIT_POINTS + 2;

fn smile_of(chain: &OptionChain, m: &ExpiryMarket, limit: usize) -> Vec<SmilePoint> {
    let f = m.forward();
    let mut candidates: Vec<&crate::types::OptionQuote> = chain
        .quotes
        .iter()
        .filter(|q| {
            let otm = match q.kind {
                OptionKind::Put => q.strike < f,
                OptionKind::Call => q.strike >= f,
            };
            otm && q.is_valid()
        })
        .collect();
    if limit == 0 {
        return Vec::new();
    }
    if candidates.len() > limit {
        // Nearest the forward in log-moneyness, |ln(K/F)|: one logarithm per quote, not per
        // comparison.
        let mut keyed: Vec<(f64, &crate::types::OptionQuote)> = candidates
            .iter()
            .map(|q| ((q.strike / f).ln().abs(), *q))
            .collect();
        keyed.select_nth_unstable_by(limit - 1, |a, b| a.0.total_cmp(&b.0));
        keyed.truncate(limit);
        candidates = keyed.into_iter().map(|(_, q)| q).collect();
    }
    let mut out: Vec<SmilePoint> = candidates
        .into_iter()
        .filter_map(|q| {
            let p = OptionParams::new(q.kind, m.spot, q.strike, m.t, m.rate, m.div).ok()?;
            let iv = implied_vol(&p, q.mid()).ok()?;
            let vega = bsm_vega(&p, iv);
            Some(SmilePoint {
                strike: q.strike,
                k: (q.strike / f).ln(),
                iv,
                vega,
                kind: q.kind,
            })
        })
        .collect();
    out.sort_by(|a, b| a.strike.total_cmp(&b.strike));
    out.dedup_by(|a, b| a.strike == b.strike);
    out
}

/// Points used for the local ATM fit.
const ATM_FIT_POINTS: usize = 7;

/// Vega-weighted least-squares quadratic `σ(k) = c0 + c1·k + c2·k²` → `[c0, c1, c2]`; weights are
/// vega relative to the largest, floored at 5 % so that the wings still inform the curvature.
/// `None` for fewer than three points or a singular system.
pub fn fit_quadratic<'a>(points: impl Iterator<Item = &'a SmilePoint> + Clone) -> Option<[f64; 3]> {
    let max_vega = points.clone().map(|p| p.vega).fold(0.0, f64::max);
    let mut a = [[0.0; 3]; 3];
    let mut b = [0.0; 3];
    let mut n = 0;
    for p in points {
        let w = if max_vega > 0.0 {
            (p.vega / max_vega).max(0.05)
        } else {
            1.0
        };
        let basis = [1.0, p.k, p.k * p.k];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += w * basis[i] * basis[j];
            }
            b[i] += w * basis[i] * p.iv;
        }
        n += 1;
    }
    if n < 3 {
        return None;
    }
    solve3(a, b)
}

/// Solves the 3×3 system `a·x = b` by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let piv = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col];
            for (dst, src) in a[row].iter_mut().zip(pivot_row).skip(col) {
                *dst -= f * src;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// ATM-forward implied vol at `k = 0`: a local vega-weighted quadratic fit over the seven strikes
/// nearest the forward (averaging away the penny/nickel rounding of single quotes, which would
/// otherwise be amplified in the event-variance difference), falling back to linear interpolation
/// with fewer strikes, and to the nearest point when the forward lies outside them. `None` for an
/// empty smile.
///
/// # Example
/// ```
/// use ivcrush_core::smile::{ExpiryMarket, atm_vol, otm_smile};
/// use ivcrush_core::{OptionChain, OptionKind, OptionParams, OptionQuote, bsm_price};
/// // A chain priced at a flat 35 % vol (quotes a cent either side of the model).
/// let market = ExpiryMarket { spot: 100.0, t: 30.0 / 365.0, rate: 0.04, div: 0.0 };
/// let mut quotes = Vec::new();
/// for strike in (80..=120).step_by(5).map(f64::from) {
///     for kind in [OptionKind::Call, OptionKind::Put] {
///         let p = OptionParams::new(kind, 100.0, strike, market.t, 0.04, 0.0).unwrap();
///         let model = bsm_price(&p, 0.35);
///         quotes.push(OptionQuote {
///             kind, strike, bid: model - 0.01, ask: model + 0.01,
///             last: None, volume: 100, open_interest: 1_000,
///         });
///     }
/// }
/// let chain = OptionChain::new("2026-03-02".parse().unwrap(), quotes);
/// let smile = otm_smile(&chain, &market);
/// assert_eq!(smile.len(), 9, "one out-of-the-money option per strike");
/// assert!(smile.iter().all(|p| (p.iv - 0.35).abs() < 0.01));
/// assert!((atm_vol(&smile).unwrap() - 0.35).abs() < 1e-3);
/// ```
pub fn atm_vol(smile: &[SmilePoint]) -> Option<f64> {
    if smile.len() >= ATM_FIT_POINTS && smile.first()?.k < 0.0 && smile.last()?.k > 0.0 {
        let mut near: Vec<&SmilePoint> = smile.iter().collect();
        near.sort_by(|a, b| a.k.abs().total_cmp(&b.k.abs()));
        near.truncate(ATM_FIT_POINTS);
        if let Some([c0, _, _]) = fit_quadratic(near.into_iter())
            && c0.is_finite()
            && c0 > 0.0
        {
            return Some(c0);
        }
    }
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
