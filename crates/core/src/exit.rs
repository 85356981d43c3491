//! P&L to a real exit (spec §8): what a strategy earns over the past earnings reactions when the
//! trade is entered at the as-of and either closed after the reaction or held to expiry.
//!
//! The past reactions (signed close-to-close moves of the reaction session) are the draws. The
//! other sessions are not motionless: the stock diffuses at the term-structure fit's ex-event
//! (diffusion) vol `σ_d` over the sessions between the as-of and the last close before the
//! reaction (`τ_pre`) and, when held, over the sessions after the reaction through expiry
//! (`τ_post`). Both exits are priced exactly, deterministically and in closed form per draw:
//!
//! - **(a) close after the reaction** ([`ExitKind::CloseAfterReaction`]): at the reaction close
//!   the spot is `S·(1+m)·e^{X_pre}` and each leg is repriced with Black–Scholes–Merton at the
//!   post-event IV over the calendar time left, `σ_post = σ_d·√(τ_post/T_post)` (the
//!   term-structure fit's ex-event vol of the expiry as seen after the event). The expected value
//!   of a BSM price over the lognormal `X_pre` is the BSM price with the two variances added, so
//!   the expected P&L needs one Black price per leg and draw. The profit region in the exit spot
//!   is found once per strategy (the zero crossings of the repriced P&L, searched from each
//!   profit interval of the payoff and refined by safeguarded Newton steps) and each draw's
//!   probability of ending in it is a normal CDF.
//! - **(b) hold to expiry** ([`ExitKind::HoldToExpiry`]): the expiry payoff at
//!   `S·(1+m)·e^{X_pre + X_post}`; its expectation is again one Black price per leg (variance
//!   `σ_d²·(τ_pre + τ_post)`), and the probability of profit is a normal CDF at the payoff's
//!   breakevens.
//!
//! Assumptions, stated: the ordinary sessions move at the fit's implied diffusion vol (no
//! premium assumed on ordinary days); the post-event IV is flat across strikes (the skew after
//! the event is not modelled); exit (a) pays the same bid–ask slippage and fees again to close
//! (nothing when the reaction session is the expiry day); exit (b) settles without fees.
//!
//! When the post-event IV equals the diffusion the two exits have the same expected value before
//! costs (the exit price is the risk-neutral expectation of the payoff): they differ in the
//! spread of outcomes (POP, worst case) and in costs (exit (a) pays the spread and fees twice).
//!
//! Without a fit diffusion the post-event IV comes from the expiry's ATM IV with the event
//! variance removed, `σ_post² = (σ_ATM²·T − E)/T`, floored at 10 % of the ATM variance (and the
//! ATM IV itself when no event variance is known); [`ExitModel::iv_source`] says which.
//!
//! Twelve draws do not make a probability: every POP carries a 95 % Wilson score interval
//! ([`wilson_interval`]), and the worst draw is reported beside the mean.

use crate::calendar::{CalendarYears, TRADING_DAYS_PER_YEAR, TradingYears, previous_trading_day};
use crate::pricing::norm_cdf as full_norm_cdf;
use crate::smile::ExpiryMarket;
use crate::strategy::{Leg, Payoff};
use crate::types::OptionKind;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How the trade is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// Bought back at the close of the reaction session, repriced at the moved spot with the
    /// post-event IV and the time left (the classic IV-crush trade; default).
    #[default]
    CloseAfterReaction,
    /// Held to expiry: the payoff after the reaction and every ordinary session left.
    HoldToExpiry,
}

impl ExitKind {
    /// `close_after_reaction` or `hold_to_expiry`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitKind::CloseAfterReaction => "close_after_reaction",
            ExitKind::HoldToExpiry => "hold_to_expiry",
        }
    }
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            ExitKind::CloseAfterReaction => "closed after the reaction",
            ExitKind::HoldToExpiry => "held to expiry",
        }
    }
}

/// Where the post-event IV of exit (a) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostEventIvSource {
    /// The term-structure fit's diffusion vol (`forecast.diffusion_vol`) over the time left
    /// after the reaction.
    TermStructureFit,
    /// The expiry's ATM IV with the event variance removed: `σ² = (σ_ATM²·T − E)/T`.
    AtmLessEvent,
    /// The expiry's ATM IV as is (no event variance known): overstates the post-event vol.
    Atm,
}

/// The clock and vols both exits are priced with (from the as-of, the reaction session and the
/// expiry).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitModel {
    /// Sessions of ordinary movement from the as-of to the last close before the reaction
    /// (the as-of session counted for its time left).
    pub sessions_before: f64,
    /// Sessions after the reaction session through the expiry day.
    pub sessions_after: f64,
    /// Calendar days from the reaction close to expiry (16:00 to 16:00).
    pub days_after: f64,
    /// Diffusion (ex-event) vol, annualised in trading-day time.
    pub diffusion_vol: f64,
    /// The IV exit (a) reprices with (calendar-time quoting, like the chain's): `σ_d·√(τ_post/T_post)`;
    /// 0 when the reaction session is the expiry day.
    pub post_event_iv: f64,
    /// Where the post-event IV comes from.
    pub iv_source: PostEventIvSource,
    /// Risk-free rate (continuous).
    pub rate: f64,
    /// Carry `r − q` of the expiry (its implied forward).
    pub carry: f64,
}

impl ExitModel {
    /// The model of an expiry seen at `as_of`, the market reacting on `reaction`.
    ///
    /// `diffusion_vol` is the fit's (trading-day) ex-event vol; without it, `atm_iv` less the
    /// `event_variance` (`(σ²T − E)/τ` as a trading-day rate, floored at 10 % of `σ²T`). `None`
    /// without either vol or with an expired expiry.
    pub fn new(
        as_of: DateTime<Utc>,
        reaction: NaiveDate,
        expiry: NaiveDate,
        market: &ExpiryMarket,
        atm_iv: Option<f64>,
        event_variance: Option<f64>,
        diffusion_vol: Option<f64>,
    ) -> Option<ExitModel> {
        let tau = TradingYears::to_expiry(as_of, expiry).years();
        let t = market.t;
        if !(tau > 0.0 && t > 0.0) {
            return None;
        }
        let tau_pre = TradingYears::to_expiry(as_of, previous_trading_day(reaction))
            .years()
            .min(tau);
        let tau_post = (tau - TradingYears::to_expiry(as_of, reaction).years()).max(0.0);
        let t_post = (t - CalendarYears::to_expiry(as_of, reaction).years()).clamp(0.0, t);
        let (sd, source) = match diffusion_vol.filter(|v| v.is_finite() && *v > 0.0) {
            Some(v) => (v, PostEventIvSource::TermStructureFit),
            None => {
                let iv = atm_iv.filter(|v| v.is_finite() && *v > 0.0)?;
                let w = iv * iv * t;
                let (left, src) = match event_variance.filter(|e| e.is_finite() && *e >= 0.0) {
                    Some(e) => ((w - e).max(0.1 * w), PostEventIvSource::AtmLessEvent),
                    None => (w, PostEventIvSource::Atm),
                };
                ((left / tau).sqrt(), src)
            }
        };
        let post_iv = if t_post > 0.0 {
            sd * (tau_post / t_post).sqrt()
        } else {
            0.0
        };
        Some(ExitModel {
            sessions_before: TradingYears(tau_pre).sessions(),
            sessions_after: TradingYears(tau_post).sessions(),
            days_after: CalendarYears(t_post).days(),
            diffusion_vol: sd,
            post_event_iv: post_iv,
            iv_source: source,
            rate: market.rate,
            carry: market.rate - market.div,
        })
    }

    fn var_pre(&self) -> f64 {
        self.diffusion_vol.powi(2) * self.sessions_before / TRADING_DAYS_PER_YEAR
    }
    fn var_post(&self) -> f64 {
        self.diffusion_vol.powi(2) * self.sessions_after / TRADING_DAYS_PER_YEAR
    }
    fn years_after(&self) -> f64 {
        CalendarYears::from_days(self.days_after).years()
    }
}

/// Trading costs per share of one strategy unit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Costs {
    /// Opening: slippage from mid plus fees.
    pub entry: f64,
    /// Closing before expiry (exit (a)): the same slippage and fees again.
    pub exit: f64,
}

/// One exit's P&L over the past reactions (per share of the strategy; × multiplier per contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitPnl {
    /// Which exit.
    pub exit: ExitKind,
    /// Mean P&L per share over the draws, net of slippage and fees.
    pub expected_pnl: f64,
    /// Mean probability of a positive net P&L over the draws (each draw's diffusion integrated).
    pub pop: f64,
    /// 95 % Wilson score interval of `pop` for this many draws.
    pub pop_interval: [f64; 2],
    /// The worst draw: the expected net P&L per share given the worst past reaction.
    pub worst_pnl: f64,
    /// Past reactions used.
    pub draws: usize,
    /// Costs per share assumed (slippage and fees; both ways for exit (a)).
    pub costs: f64,
    /// Underlying prices at the exit where the net P&L is zero, ascending.
    pub breakevens: Vec<f64>,
}

/// 95 % Wilson score interval of a proportion `p` observed over `n` draws (`[0, 1]` for none).
///
/// # Example
/// ```
/// use ivcrush_core::exit::wilson_interval;
/// let [lo, hi] = wilson_interval(0.75, 12);
/// assert!(lo < 0.75 && 0.75 < hi);
/// assert!((lo - 0.4677).abs() < 1e-4 && (hi - 0.9111).abs() < 1e-4);
/// assert_eq!(wilson_interval(0.5, 0), [0.0, 1.0]);
/// ```
pub fn wilson_interval(p: f64, n: usize) -> [f64; 2] {
    if n == 0 || !p.is_finite() {
        return [0.0, 1.0];
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let p = p.clamp(0.0, 1.0);
    let z2n = Z * Z / n;
    let den = 1.0 + z2n;
    let centre = (p + 0.5 * z2n) / den;
    let half = Z * (p * (1.0 - p) / n + 0.25 * z2n / n).sqrt() / den;
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// The standard normal CDF, exactly 0 or 1 beyond ±8.3 (below 1e-16 away): most region
/// bounds of a short-dated draw sit far in a tail, where the full function is slowest.
#[inline]
fn norm_cdf(z: f64) -> f64 {
    if z < -8.3 {
        0.0
    } else if z > 8.3 {
        1.0
    } else {
        full_norm_cdf(z)
    }
}

/// One leg as the engine prices it.
#[derive(Debug, Clone, Copy)]
struct PricedLeg {
    call: bool,
    strike: f64,
    ln_strike: f64,
    /// +quantity long, −quantity short.
    weight: f64,
}

impl PricedLeg {
    fn new(l: &Leg) -> PricedLeg {
        let sign = match l.side {
            crate::strategy::Side::Long => 1.0,
            crate::strategy::Side::Short => -1.0,
        };
        PricedLeg {
            call: l.kind == OptionKind::Call,
            strike: l.strike,
            ln_strike: l.strike.ln(),
            weight: sign * f64::from(l.quantity),
        }
    }

    /// Undiscounted Black value at forward `f` and total standard deviation `sd` (intrinsic at
    /// `sd = 0`) with the leg's weight applied, and its derivative in `f`, from the call's
    /// `(N(d1), N(d2))` (`n`; puts by parity). The textbook formula is enough here: these
    /// values are added to credits, so tail digits do not matter.
    #[inline]
    fn value(&self, f: f64, sd: f64, n: (f64, f64)) -> (f64, f64) {
        let k = self.strike;
        let (call, delta) = if sd > 0.0 {
            ((f * n.0 - k * n.1).max(0.0), n.0)
        } else {
            ((f - k).max(0.0), if f > k { 1.0 } else { 0.0 })
        };
        let (v, d) = if self.call {
            (call, delta)
        } else {
            ((call - (f - k)).max(0.0), delta - 1.0)
        };
        (self.weight * v, self.weight * d)
    }

    /// The call's `(N(d1), N(d2))` at `ln f` and `sd > 0`.
    #[inline]
    fn cdfs(&self, ln_f: f64, sd: f64) -> (f64, f64) {
        let d1 = (ln_f - self.ln_strike) / sd + 0.5 * sd;
        (norm_cdf(d1), norm_cdf(d1 - sd))
    }
}

/// The legs' value at forward `f` and its derivative in `f` (legs sharing a strike share their
/// normal CDFs).
fn legs_value(legs: &[PricedLeg], f: f64, sd: f64) -> (f64, f64) {
    let ln_f = f.ln();
    let mut last: Option<(f64, (f64, f64))> = None;
    legs.iter().fold((0.0, 0.0), |(v, d), l| {
        let n = if sd > 0.0 {
            match last {
                Some((k, n)) if k == l.strike => n,
                _ => {
                    let n = l.cdfs(ln_f, sd);
                    last = Some((l.strike, n));
                    n
                }
            }
        } else {
            (0.0, 0.0)
        };
        let (lv, ld) = l.value(f, sd, n);
        (v + lv, d + ld)
    })
}

/// Profit intervals with their bounds' logarithms (`±∞` for 0 and ∞).
#[derive(Debug, Clone, Default)]
struct Region {
    ln_bounds: Vec<(f64, f64)>,
}

impl Region {
    fn new(intervals: &[(f64, f64)]) -> Region {
        Region {
            ln_bounds: intervals
                .iter()
                .map(|&(a, b)| {
                    (
                        if a > 0.0 { a.ln() } else { f64::NEG_INFINITY },
                        if b.is_finite() { b.ln() } else { f64::INFINITY },
                    )
                })
                .collect(),
        }
    }

    /// P(`X` in the region) for `ln X ~ N(ln m − w/2, w)` (mean `m`); for `w = 0`, whether `m`
    /// is in.
    fn prob(&self, mean: f64, w: f64) -> f64 {
        let sd = w.max(0.0).sqrt();
        let centre = mean.ln() - 0.5 * w;
        let cdf = |lx: f64| {
            if lx == f64::NEG_INFINITY {
                0.0
            } else if lx == f64::INFINITY {
                1.0
            } else if sd == 0.0 {
                if centre < lx { 1.0 } else { 0.0 }
            } else {
                norm_cdf((lx - centre) / sd)
            }
        };
        self.ln_bounds
            .iter()
            .map(|&(a, b)| cdf(b) - cdf(a))
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }
}

/// Everything per strategy both exits need, computed once.
pub struct ExitEngine {
    legs: Vec<PricedLeg>,
    /// `e^{(r−q)·T_post}`, `e^{−r·T_post}` and `√(σ_d²·τ_post)` of the model.
    carry: f64,
    df: f64,
    sd_post: f64,
    credit: f64,
    spot: f64,
    model: ExitModel,
    costs: Costs,
    /// Net expiry-payoff profit region (exit (b)) and its breakevens.
    hold: Region,
    hold_breakevens: Vec<f64>,
    /// Profit region in the exit spot of exit (a) and its breakevens.
    close: Region,
    close_breakevens: Vec<f64>,
}

impl ExitEngine {
    /// Prepares both exits of `legs` (mid credit `credit`) entered at `spot`; `moves` (signed
    /// fractions: every set of draws that will be asked about) bound the root search.
    pub fn new(
        legs: &[Leg],
        credit: f64,
        spot: f64,
        model: ExitModel,
        costs: Costs,
        moves: &[&[f64]],
    ) -> ExitEngine {
        let hold = Payoff::with_credit(legs, credit - costs.entry);
        let hold_breakevens = hold.breakevens();
        let hold_intervals = hold.profit_intervals_at(&hold_breakevens);
        let t = model.years_after();
        let mut e = ExitEngine {
            legs: legs.iter().map(PricedLeg::new).collect(),
            carry: (model.carry * t).exp(),
            df: (-model.rate * t).exp(),
            sd_post: model.var_post().sqrt(),
            credit,
            spot,
            model,
            costs,
            hold: Region::new(&hold_intervals),
            hold_breakevens,
            close: Region::default(),
            close_breakevens: Vec::new(),
        };
        let (intervals, breakevens) = e.close_region(legs, moves);
        e.close = Region::new(&intervals);
        e.close_breakevens = breakevens;
        e
    }

    /// Net P&L per share of exit (a) when the spot at the reaction close is `s`.
    fn close_pnl(&self, s: f64) -> f64 {
        self.close_pnl_slope(s).0
    }

    /// [`Self::close_pnl`] and its derivative in `s`.
    fn close_pnl_slope(&self, s: f64) -> (f64, f64) {
        let (v, d) = legs_value(&self.legs, s * self.carry, self.sd_post);
        (
            self.credit - self.costs.entry - self.costs.exit + self.df * v,
            self.df * self.carry * d,
        )
    }

    /// The exit-(a) profit region in the exit spot and its breakevens: exact (the payoff's)
    /// when nothing is left after the reaction; else, for each profit interval of the payoff
    /// (net of both ways' costs), the zero crossings of [`Self::close_pnl`] between its middle
    /// and its ends (searched outward up to the draws' support when the end itself is still in
    /// profit), refined by regula falsi. The time value left at the exit can only shrink a
    /// short-premium profit interval, so none is looked for elsewhere.
    fn close_region(&self, legs: &[Leg], moves: &[&[f64]]) -> (Vec<(f64, f64)>, Vec<f64>) {
        let m = self.model;
        let net = self.credit - self.costs.entry - self.costs.exit;
        let payoff = Payoff::with_credit(legs, net);
        let breakevens = payoff.breakevens();
        let intervals = payoff.profit_intervals_at(&breakevens);
        if !(m.var_post() > 0.0 && m.years_after() > 0.0) {
            return (intervals, breakevens);
        }
        // The draws' support: every move, six pre-event standard deviations either side.
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for set in moves {
            for mv in set.iter() {
                let x = (1.0 + mv).max(1e-6).ln();
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
        let sd = m.var_pre().sqrt();
        let (lo, hi) = (
            self.spot * (lo - 6.0 * sd - 0.02).exp(),
            self.spot * (hi + 6.0 * sd + 0.02).exp(),
        );
        let mut out = Vec::new();
        let mut roots = Vec::new();
        for &(a, b) in &intervals {
            let a_in = a.max(lo * 0.5);
            let b_in = if b.is_finite() { b } else { hi * 2.0 };
            if !(b_in > a_in) {
                continue;
            }
            let c = (a_in * b_in).sqrt();
            let fc = self.close_pnl(c);
            if !(fc > 0.0) {
                continue;
            }
            // Left end: from the payoff's breakeven (or the support's bottom) toward the middle.
            let left = if a > 0.0 {
                self.crossing(c, fc, a, lo)
            } else {
                None
            };
            let right = if b.is_finite() {
                self.crossing(c, fc, b, hi)
            } else {
                None
            };
            let (l, r) = (left.unwrap_or(a), right.unwrap_or(b));
            out.push((l, r));
            roots.extend(left);
            roots.extend(right);
        }
        (out, roots)
    }

    /// The zero crossing between the profitable `c` (`f(c) = fc > 0`) and the end `end`,
    /// searched beyond `end` (geometric steps toward `limit`) while `end` is still profitable;
    /// `None` when profitable up to `limit`.
    fn crossing(&self, c: f64, fc: f64, end: f64, limit: f64) -> Option<f64> {
        let (mut inner, mut f_inner) = (c, fc);
        let mut outer = end;
        let mut f_outer = self.close_pnl(outer);
        let mut steps = 0;
        while f_outer > 0.0 {
            if steps >= 8 || (outer - limit).abs() <= 1e-12 * limit {
                return None;
            }
            inner = outer;
            f_inner = f_outer;
            outer = if limit < c {
                (outer * 0.9).max(limit)
            } else {
                (outer * 1.1).min(limit)
            };
            f_outer = self.close_pnl(outer);
            steps += 1;
        }
        Some(self.refine(inner, f_inner, outer, f_outer))
    }

    /// A zero of `close_pnl` between `a` and `b` (`f(a) > 0 ≥ f(b)`): Newton steps kept inside
    /// the shrinking bracket (bisection when one would leave it), to 1e-6 of the spot in P&L or
    /// a 1e-7 relative bracket.
    fn refine(&self, mut a: f64, fa: f64, mut b: f64, fb: f64) -> f64 {
        let tol = 1e-6 * self.spot;
        // Start from the secant point.
        let mut x = (a * fb - b * fa) / (fb - fa);
        if !x.is_finite() {
            x = 0.5 * (a + b);
        }
        for _ in 0..30 {
            let (fx, dx) = self.close_pnl_slope(x);
            if fx.abs() < tol || (b - a).abs() <= 1e-7 * x.abs() {
                return x;
            }
            if fx > 0.0 {
                a = x;
            } else {
                b = x;
            }
            let newton = x - fx / dx;
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            x = if newton.is_finite() && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (a + b)
            };
        }
        x
    }

    /// Both exits over the draws `moves` (signed fractions): `[close after the reaction, hold
    /// to expiry]`; `None` without draws.
    pub fn evaluate(&self, moves: &[f64]) -> Option<[ExitPnl; 2]> {
        if moves.is_empty() {
            return None;
        }
        let m = &self.model;
        let (carry, df) = (self.carry, self.df);
        let (w_pre, w_tot) = (m.var_pre(), m.var_pre() + m.var_post());
        let sd_tot = w_tot.sqrt();
        let n = moves.len();
        let mut acc = [(0.0, 0.0, f64::INFINITY); 2];
        for mv in moves {
            let s = self.spot * (1.0 + mv).max(1e-6);
            let f = s * carry;
            let value = legs_value(&self.legs, f, sd_tot).0;
            let close = self.credit - self.costs.entry - self.costs.exit + df * value;
            let hold = self.credit - self.costs.entry + value;
            for (a, (pnl, p)) in acc.iter_mut().zip([
                (close, self.close.prob(s, w_pre)),
                (hold, self.hold.prob(f, w_tot)),
            ]) {
                a.0 += pnl;
                a.1 += p;
                a.2 = a.2.min(pnl);
            }
        }
        let nf = n as f64;
        let make = |kind: ExitKind, (sum, pop, worst): (f64, f64, f64)| ExitPnl {
            exit: kind,
            expected_pnl: sum / nf,
            pop: pop / nf,
            pop_interval: wilson_interval(pop / nf, n),
            worst_pnl: worst,
            draws: n,
            costs: match kind {
                ExitKind::CloseAfterReaction => self.costs.entry + self.costs.exit,
                ExitKind::HoldToExpiry => self.costs.entry,
            },
            breakevens: match kind {
                ExitKind::CloseAfterReaction => self.close_breakevens.clone(),
                ExitKind::HoldToExpiry => self.hold_breakevens.clone(),
            },
        };
        Some([
            make(ExitKind::CloseAfterReaction, acc[0]),
            make(ExitKind::HoldToExpiry, acc[1]),
        ])
    }

    /// The probability of profit alone of one exit over other draws (e.g. the past moves
    /// rescaled to the implied event).
    pub fn pop(&self, exit: ExitKind, moves: &[f64]) -> Option<f64> {
        if moves.is_empty() {
            return None;
        }
        let m = &self.model;
        let carry = self.carry;
        let (w_pre, w_tot) = (m.var_pre(), m.var_pre() + m.var_post());
        let sum: f64 = moves
            .iter()
            .map(|mv| {
                let s = self.spot * (1.0 + mv).max(1e-6);
                match exit {
                    ExitKind::CloseAfterReaction => self.close.prob(s, w_pre),
                    ExitKind::HoldToExpiry => self.hold.prob(s * carry, w_tot),
                }
            })
            .sum();
        Some(sum / moves.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_of_twelve_out_of_twelve_is_not_certainty() {
        let [lo, hi] = wilson_interval(1.0, 12);
        assert!((lo - 12.0 / (12.0 + 1.959_963_984_540_054f64.powi(2))).abs() < 1e-12);
        assert_eq!(hi, 1.0);
        let [lo, hi] = wilson_interval(0.5, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
    }
}
