//! The forward of each expiry, implied by the chain itself (put–call parity at the strikes
//! nearest the money), as professional vol surfaces build it.
//!
//! `S·e^{(r−q)T}` with a configured continuous yield is wrong for any stock paying a discrete
//! dividend before expiry or costly to borrow; the strike called ATM, the out-of-the-money side
//! each IV is solved from, and the IVs themselves all follow from the forward, so an error there
//! reaches the event move. Parity `C − P = e^{−rT}(F − K)` gives `F = K + e^{rT}(C − P)` at every
//! strike with a two-sided call and put; the nearest few are averaged. Near the money the early
//! exercise premium of American options is small, which is why only those strikes are used. With
//! too few two-sided pairs the rate-and-yield forward is used, with a data-quality note.
//!
//! This is the one implementation of the parity forward: the spot-vs-parity gate
//! ([`crate::quality::check_spot_parity`]) discounts the same figure back to a spot.

use crate::quality::{DataQuality, QualityCode};
use crate::types::{OptionChain, OptionKind};
use serde::{Deserialize, Serialize};

/// Where an expiry's forward came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ForwardSource {
    /// Put–call parity at the strikes nearest the money (default).
    #[default]
    Parity,
    /// `S·e^{(r−q)T}` from the configured rate and yield.
    Carry,
}

/// Forward settings (`[analytics.forward]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardConfig {
    /// `parity` (default) or `carry` (rate and yield only, for comparison).
    pub source: ForwardSource,
    /// Fewest two-sided call/put pairs near the money for a parity forward (default 2); with
    /// fewer, the carry forward is used and noted.
    pub min_pairs: usize,
    /// Pairs nearest the money averaged (default 3): enough to average away quote rounding, few
    /// enough to stay where early exercise does not matter.
    pub max_pairs: usize,
    /// Strikes searched on each side of the forward (default 3).
    pub near_strikes: usize,
    /// A parity forward further than this percent from the carry forward is noted
    /// (`forward_disagrees`; default 0.5 %: a dividend or borrow cost the configured yield
    /// does not carry).
    pub disagree_pct: f64,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        ForwardConfig {
            source: ForwardSource::Parity,
            min_pairs: 2,
            max_pairs: 3,
            near_strikes: 3,
            disagree_pct: 0.5,
        }
    }
}

impl ForwardConfig {
    /// Every problem with these settings.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.min_pairs == 0 {
            p.push("forward.min_pairs must be at least 1".to_owned());
        }
        if self.max_pairs < self.min_pairs {
            p.push(format!(
                "forward.max_pairs ({}) must be >= forward.min_pairs ({})",
                self.max_pairs, self.min_pairs
            ));
        }
        if self.near_strikes == 0 {
            p.push("forward.near_strikes must be at least 1".to_owned());
        }
        if !(self.disagree_pct.is_finite() && self.disagree_pct > 0.0) {
            p.push(format!(
                "forward.disagree_pct must be a finite number > 0 (got {})",
                self.disagree_pct
            ));
        }
        p
    }
}

/// The two-sided call/put pairs nearest `forward`: `(strike, call mid, put mid)`, nearest first,
/// among at most `per_side` of the chain's sorted `strikes` on each side of the forward.
fn pairs_among(
    chain: &OptionChain,
    strikes: &[f64],
    forward: f64,
    per_side: usize,
) -> Vec<(f64, f64, f64)> {
    let split = strikes.partition_point(|k| *k < forward);
    let lo = split.saturating_sub(per_side);
    let hi = split.saturating_add(per_side).min(strikes.len());
    let mut pairs: Vec<(f64, f64, f64)> = strikes[lo..hi]
        .iter()
        .filter_map(|&k| {
            let c = chain.quote(OptionKind::Call, k)?;
            let p = chain.quote(OptionKind::Put, k)?;
            (c.is_valid() && p.is_valid()).then(|| (k, c.mid(), p.mid()))
        })
        .collect();
    pairs.sort_by(|a, b| (a.0 - forward).abs().total_cmp(&(b.0 - forward).abs()));
    pairs
}

/// The parity forward `F = K + e^{rT}(C − P)` averaged over the (up to `max_pairs`) two-sided
/// strikes nearest `guess`, re-centred once on its own result when that crosses a strike (a
/// dividend can move the forward past one from the guess). Returns the forward and the pairs
/// used; `None` without any two-sided pair or for a non-finite or non-positive result.
pub fn parity_forward(
    chain: &OptionChain,
    guess: f64,
    t: f64,
    rate: f64,
    per_side: usize,
    max_pairs: usize,
) -> Option<(f64, usize)> {
    let growth = (rate * t).exp();
    let strikes = chain.strikes();
    let estimate = |centre: f64| {
        let pairs = pairs_among(chain, &strikes, centre, per_side);
        let used = &pairs[..pairs.len().min(max_pairs.max(1))];
        if used.is_empty() {
            return None;
        }
        let f = used
            .iter()
            .map(|(k, c, p)| k + growth * (c - p))
            .sum::<f64>()
            / used.len() as f64;
        (f.is_finite() && f > 0.0).then_some((f, used.len()))
    };
    let first = estimate(guess)?;
    let bucket = |x: f64| strikes.partition_point(|k| *k < x);
    if bucket(first.0) == bucket(guess) {
        return Some(first);
    }
    Some(estimate(first.0).unwrap_or(first))
}

/// One expiry's forward with its provenance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForwardEstimate {
    /// The forward used for this expiry.
    pub forward: f64,
    /// `S·e^{(r−q)T}` from the configured rate and yield.
    pub carry: f64,
    /// Where `forward` came from.
    pub source: ForwardSource,
    /// Two-sided pairs averaged (0 for a carry forward).
    pub pairs: usize,
}

/// The forward of `chain` (calendar years `t` to its expiry) and, when it deserves one, a
/// data-quality note: `forward_fallback` when too few two-sided pairs forced the carry forward,
/// `forward_disagrees` when the parity forward is far from the carry forward.
///
/// # Example
/// ```
/// use ivcrush_core::forward::{ForwardConfig, ForwardSource, expiry_forward};
/// use ivcrush_core::{OptionChain, OptionKind, OptionParams, OptionQuote, bsm_price};
/// // Quotes priced with a 2 % yield the caller does not know about: parity finds the forward.
/// let (spot, t, rate, true_div) = (100.0, 0.1, 0.04, 0.02);
/// let mut quotes = Vec::new();
/// for strike in [95.0, 100.0, 105.0] {
///     for kind in [OptionKind::Call, OptionKind::Put] {
///         let p = OptionParams::new(kind, spot, strike, t, rate, true_div).unwrap();
///         let mid = bsm_price(&p, 0.3);
///         quotes.push(OptionQuote {
///             kind, strike, bid: mid - 0.005, ask: mid + 0.005,
///             last: None, volume: 100, open_interest: 1_000,
///         });
///     }
/// }
/// let chain = OptionChain::new("2026-03-06".parse().unwrap(), quotes);
/// let (est, _note) = expiry_forward(&chain, spot, t, rate, 0.0, &ForwardConfig::default());
/// assert_eq!(est.source, ForwardSource::Parity);
/// assert!((est.forward - spot * ((rate - true_div) * t).exp()).abs() < 1e-9);
/// ```
pub fn expiry_forward(
    chain: &OptionChain,
    spot: f64,
    t: f64,
    rate: f64,
    div: f64,
    cfg: &ForwardConfig,
) -> (ForwardEstimate, Option<DataQuality>) {
    let carry = spot * ((rate - div) * t).exp();
    let carry_only = |pairs| ForwardEstimate {
        forward: carry,
        carry,
        source: ForwardSource::Carry,
        pairs,
    };
    if cfg.source == ForwardSource::Carry {
        return (carry_only(0), None);
    }
    match parity_forward(chain, carry, t, rate, cfg.near_strikes, cfg.max_pairs) {
        Some((forward, pairs)) if pairs >= cfg.min_pairs => {
            let diff_pct = (forward / carry - 1.0) * 100.0;
            let note = (diff_pct.abs() > cfg.disagree_pct).then(|| {
                DataQuality::new(
                    QualityCode::ForwardDisagrees,
                    format!(
                        "forward of {}: put-call parity gives {forward:.4}, rate and yield \
                         {carry:.4} ({diff_pct:+.2} %, beyond {} %): a dividend or borrow cost \
                         the configured yield does not carry; the parity forward is used",
                        chain.expiration, cfg.disagree_pct
                    ),
                )
            });
            (
                ForwardEstimate {
                    forward,
                    carry,
                    source: ForwardSource::Parity,
                    pairs,
                },
                note,
            )
        }
        other => {
            let pairs = other.map_or(0, |(_, n)| n);
            (
                carry_only(0),
                Some(DataQuality::new(
                    QualityCode::ForwardFallback,
                    format!(
                        "forward of {}: {pairs} two-sided call/put pairs near the money (need \
                         {}); rate and yield forward {carry:.4} used",
                        chain.expiration, cfg.min_pairs
                    ),
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{OptionParams, bsm_price};
    use crate::types::OptionQuote;

    fn quote(kind: OptionKind, strike: f64, mid: f64) -> OptionQuote {
        OptionQuote {
            kind,
            strike,
            bid: mid - 0.01,
            ask: mid + 0.01,
            last: None,
            volume: 100,
            open_interest: 1000,
        }
    }

    /// European quotes on a forward `f` (discount `e^{−rT}`), flat vol.
    fn chain(f: f64, t: f64, r: f64, strikes: &[f64]) -> OptionChain {
        // Spot and yield chosen so that S·e^{(r−q)T} = f.
        let s = 100.0;
        let q = r - (f / s).ln() / t;
        let mut quotes = Vec::new();
        for &k in strikes {
            for kind in [OptionKind::Call, OptionKind::Put] {
                let p = OptionParams::new(kind, s, k, t, r, q).expect("valid");
                quotes.push(quote(kind, k, bsm_price(&p, 0.3)));
            }
        }
        OptionChain::new("2026-02-06".parse().expect("date"), quotes)
    }

    #[test]
    fn parity_recovers_a_forward_shifted_by_a_dividend() {
        let strikes: Vec<f64> = (0..21).map(|i| 90.0 + i as f64).collect();
        // Carry says 100.08; a $1.50 dividend puts the true forward at 98.58.
        let (t, r) = (10.0 / 365.0, 0.03);
        let c = chain(98.58, t, r, &strikes);
        let (est, note) = expiry_forward(&c, 100.0, t, r, 0.0, &ForwardConfig::default());
        assert_eq!(est.source, ForwardSource::Parity);
        assert_eq!(est.pairs, 3);
        assert!((est.forward - 98.58).abs() < 1e-9, "{est:?}");
        let note = note.expect("1.5 % apart is noted");
        assert_eq!(note.code, QualityCode::ForwardDisagrees);
        assert!(!note.blocking);
    }

    #[test]
    fn too_few_pairs_fall_back_to_carry_with_a_note() {
        let (t, r) = (10.0 / 365.0, 0.03);
        let mut c = chain(100.0, t, r, &[95.0, 100.0, 105.0]);
        // Only the 100 strike stays two-sided.
        for q in &mut c.quotes {
            if q.strike != 100.0 && q.kind == OptionKind::Put {
                q.bid = 0.0;
            }
        }
        let (est, note) = expiry_forward(&c, 100.0, t, r, 0.0, &ForwardConfig::default());
        assert_eq!(est.source, ForwardSource::Carry);
        assert!((est.forward - 100.0 * (r * t).exp()).abs() < 1e-12);
        assert_eq!(note.expect("noted").code, QualityCode::ForwardFallback);
        let carry_cfg = ForwardConfig {
            source: ForwardSource::Carry,
            ..ForwardConfig::default()
        };
        assert_eq!(expiry_forward(&c, 100.0, t, r, 0.0, &carry_cfg).1, None);
    }
}
