//! Black–Scholes–Merton prices and greeks on the forward.
//!
//! The price is `e^{-rT} · Black(F, K, σ, T)` with `F = S·e^{(r−q)T}`, where `Black` is the
//! `implied-vol` crate's normalised Black function: it keeps relative accuracy deep in the tails,
//! where the textbook `S·N(d1) − K·e^{-rT}·N(d2)` cancels to zero or below.
//!
//! Greek units (API): delta per 1 of S, gamma per S², vega per 1.00 of vol, theta per year of
//! calendar time (dV/dt, negative for a long option that decays), rho per 1.00 of rate.

use crate::types::OptionKind;
use implied_vol::{DefaultSpecialFn, PriceBlackScholes, SpecialFn};
use serde::{Deserialize, Serialize};

/// Inputs of a European option under BSM, validated by [`OptionParams::new`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptionParams {
    /// Call or put.
    pub kind: OptionKind,
    /// Spot price, > 0.
    pub spot: f64,
    /// Strike, > 0.
    pub strike: f64,
    /// Time to expiry in years, > 0.
    pub t: f64,
    /// Continuously compounded risk-free rate (0.05 = 5 %).
    pub rate: f64,
    /// Continuously compounded dividend yield.
    pub div: f64,
}

/// Why a set of option inputs was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Spot is not a finite positive number.
    #[error("spot must be a finite number > 0")]
    Spot,
    /// Strike is not a finite positive number.
    #[error("strike must be a finite number > 0")]
    Strike,
    /// Time to expiry is not a finite positive number.
    #[error("t (years to expiry) must be a finite number > 0")]
    Time,
    /// Rate is not finite.
    #[error("rate must be a finite number")]
    Rate,
    /// Dividend yield is not finite.
    #[error("div must be a finite number")]
    Div,
    /// Volatility is not a finite number ≥ 0.
    #[error("vol must be a finite number >= 0")]
    Vol,
}

impl OptionParams {
    /// Checks the inputs: spot, strike and `t` finite and > 0, rate and div finite.
    ///
    /// # Errors
    /// [`InputError`] naming the first offending input.
    ///
    /// # Example
    /// ```
    /// use ivcrush_core::{InputError, OptionKind, OptionParams};
    /// let p = OptionParams::new(OptionKind::Call, 100.0, 105.0, 0.25, 0.04, 0.01).unwrap();
    /// // F = S·e^{(r−q)T}
    /// assert!((p.forward() - 100.0 * (0.03f64 * 0.25).exp()).abs() < 1e-12);
    /// assert_eq!(
    ///     OptionParams::new(OptionKind::Put, 100.0, 105.0, 0.0, 0.04, 0.0),
    ///     Err(InputError::Time)
    /// );
    /// assert_eq!(
    ///     OptionParams::new(OptionKind::Put, f64::NAN, 105.0, 0.25, 0.04, 0.0),
    ///     Err(InputError::Spot)
    /// );
    /// ```
    pub fn new(
        kind: OptionKind,
        spot: f64,
        strike: f64,
        t: f64,
        rate: f64,
        div: f64,
    ) -> Result<Self, InputError> {
        if !(spot.is_finite() && spot > 0.0) {
            return Err(InputError::Spot);
        }
        if !(strike.is_finite() && strike > 0.0) {
            return Err(InputError::Strike);
        }
        if !(t.is_finite() && t > 0.0) {
            return Err(InputError::Time);
        }
        if !rate.is_finite() {
            return Err(InputError::Rate);
        }
        if !div.is_finite() {
            return Err(InputError::Div);
        }
        Ok(OptionParams {
            kind,
            spot,
            strike,
            t,
            rate,
            div,
        })
    }

    /// Forward price `S·e^{(r−q)T}`.
    #[inline]
    pub fn forward(&self) -> f64 {
        self.spot * ((self.rate - self.div) * self.t).exp()
    }

    /// Discount factor `e^{−rT}`.
    #[inline]
    pub fn discount(&self) -> f64 {
        (-self.rate * self.t).exp()
    }
}

/// Price and greeks of one option (units in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Greeks {
    /// Present value.
    pub price: f64,
    /// ∂V/∂S.
    pub delta: f64,
    /// ∂²V/∂S².
    pub gamma: f64,
    /// ∂V/∂σ per 1.00 of vol (divide by 100 for per vol point).
    pub vega: f64,
    /// ∂V/∂t per year (divide by 365 for per calendar day).
    pub theta: f64,
    /// ∂V/∂r per 1.00 of rate (divide by 100 for per 1 %).
    pub rho: f64,
}

/// Undiscounted Black price on the forward.
#[inline]
pub(crate) fn black_undiscounted(kind: OptionKind, f: f64, k: f64, vol: f64, t: f64) -> f64 {
    PriceBlackScholes::builder()
        .forward(f)
        .strike(k)
        .volatility(vol)
        .expiry(t)
        .is_call(kind.is_call())
        .build_unchecked()
        .calculate::<DefaultSpecialFn>()
}

/// Standard normal CDF, accurate in the tails (Cody's erfc).
///
/// # Example
/// ```
/// use ivcrush_core::pricing::{norm_cdf, norm_inv, norm_pdf};
/// assert_eq!(norm_cdf(0.0), 0.5);
/// assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
/// assert!((norm_inv(norm_cdf(-1.3)) + 1.3).abs() < 1e-12);
/// assert!((norm_pdf(0.0) - 1.0 / (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-16);
/// ```
#[inline]
pub fn norm_cdf(x: f64) -> f64 {
    DefaultSpecialFn::norm_cdf(x)
}

/// Standard normal density.
#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Inverse standard normal CDF.
#[inline]
pub fn norm_inv(p: f64) -> f64 {
    DefaultSpecialFn::inverse_norm_cdf(p)
}

/// Present value of the option at volatility `vol` (≥ 0; 0 gives the discounted intrinsic).
///
/// # Example
/// ```
/// use ivcrush_core::{OptionKind, OptionParams, bsm_price};
/// let call = OptionParams::new(OptionKind::Call, 100.0, 95.0, 0.5, 0.04, 0.01).unwrap();
/// let put = OptionParams { kind: OptionKind::Put, ..call };
/// let (c, p) = (bsm_price(&call, 0.3), bsm_price(&put, 0.3));
/// // Put–call parity: C − P = e^{−rT}·(F − K).
/// assert!((c - p - call.discount() * (call.forward() - 95.0)).abs() < 1e-12);
/// // At zero vol an option is worth its discounted intrinsic value on the forward.
/// assert!((bsm_price(&call, 0.0) - call.discount() * (call.forward() - 95.0)).abs() < 1e-12);
/// ```
pub fn bsm_price(p: &OptionParams, vol: f64) -> f64 {
    let f = p.forward();
    let df = p.discount();
    if vol <= 0.0 {
        return df * intrinsic(p.kind, f, p.strike);
    }
    df * black_undiscounted(p.kind, f, p.strike, vol, p.t)
}

#[inline]
fn intrinsic(kind: OptionKind, f: f64, k: f64) -> f64 {
    match kind {
        OptionKind::Call => (f - k).max(0.0),
        OptionKind::Put => (k - f).max(0.0),
    }
}

/// Price and greeks at volatility `vol` (units in the module docs).
///
/// At `vol = 0` the greeks are those of the discounted intrinsic payoff (gamma and vega 0).
///
/// # Example
/// ```
/// use ivcrush_core::{OptionKind, OptionParams, bsm_greeks, bsm_price};
/// let call = OptionParams::new(OptionKind::Call, 100.0, 100.0, 0.25, 0.04, 0.0).unwrap();
/// let put = OptionParams { kind: OptionKind::Put, ..call };
/// let (gc, gp) = (bsm_greeks(&call, 0.25), bsm_greeks(&put, 0.25));
/// assert!((gc.price - bsm_price(&call, 0.25)).abs() < 1e-12);
/// assert!(gc.delta > 0.5 && gc.delta < 1.0 && gp.delta < 0.0);
/// // Without a dividend yield, Δcall − Δput = 1; gamma and vega are the same for both.
/// assert!((gc.delta - gp.delta - 1.0).abs() < 1e-12);
/// assert!((gc.gamma - gp.gamma).abs() < 1e-12 && (gc.vega - gp.vega).abs() < 1e-9);
/// assert!(gc.theta < 0.0, "a long ATM call loses value with time");
/// ```
pub fn bsm_greeks(p: &OptionParams, vol: f64) -> Greeks {
    let (s, k, t, r, q) = (p.spot, p.strike, p.t, p.rate, p.div);
    let f = p.forward();
    let df_r = p.discount();
    let df_q = (-q * t).exp();
    let price = bsm_price(p, vol);
    if vol <= 0.0 {
        let itm = match p.kind {
            OptionKind::Call => f > k,
            OptionKind::Put => f < k,
        };
        let sign = if p.kind.is_call() { 1.0 } else { -1.0 };
        let (delta, theta, rho) = if itm {
            (
                sign * df_q,
                sign * (q * s * df_q - r * k * df_r),
                sign * k * t * df_r,
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        return Greeks {
            price,
            delta,
            gamma: 0.0,
            vega: 0.0,
            theta,
            rho,
        };
    }
    let sqrt_t = t.sqrt();
    let sd = vol * sqrt_t;
    let d1 = (f / k).ln() / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let pdf = norm_pdf(d1);
    let gamma = df_q * pdf / (s * sd);
    let vega = s * df_q * pdf * sqrt_t;
    let decay = -s * df_q * pdf * vol / (2.0 * sqrt_t);
    let (delta, theta, rho) = match p.kind {
        OptionKind::Call => {
            let (nd1, nd2) = (norm_cdf(d1), norm_cdf(d2));
            (
                df_q * nd1,
                decay - r * k * df_r * nd2 + q * s * df_q * nd1,
                k * t * df_r * nd2,
            )
        }
        OptionKind::Put => {
            let (nmd1, nmd2) = (norm_cdf(-d1), norm_cdf(-d2));
            (
                -df_q * nmd1,
                decay + r * k * df_r * nmd2 - q * s * df_q * nmd1,
                -k * t * df_r * nmd2,
            )
        }
    };
    Greeks {
        price,
        delta,
        gamma,
        vega,
        theta,
        rho,
    }
}

/// Vega per 1.00 of vol alone, `S·e^{−qT}·φ(d1)·√T` (0 for a non-positive vol): the same figure
/// as [`bsm_greeks`]' vega without pricing the option, for the smile fit's weights.
///
/// # Example
/// ```
/// use ivcrush_core::{OptionKind, OptionParams, bsm_price};
/// use ivcrush_core::pricing::bsm_vega;
/// let p = OptionParams::new(OptionKind::Put, 100.0, 90.0, 0.1, 0.04, 0.0).unwrap();
/// let h = 1e-5;
/// let finite_difference = (bsm_price(&p, 0.45 + h) - bsm_price(&p, 0.45 - h)) / (2.0 * h);
/// assert!((bsm_vega(&p, 0.45) - finite_difference).abs() < 1e-6);
/// assert_eq!(bsm_vega(&p, 0.0), 0.0);
/// ```
pub fn bsm_vega(p: &OptionParams, vol: f64) -> f64 {
    if !(vol > 0.0) {
        return 0.0;
    }
    let sqrt_t = p.t.sqrt();
    let sd = vol * sqrt_t;
    let d1 = (p.forward() / p.strike).ln() / sd + 0.5 * sd;
    p.spot * (-p.div * p.t).exp() * norm_pdf(d1) * sqrt_t
}
/// Black–Scholes delta only (cheaper than [`bsm_greeks`]); used to place strikes by delta.
pub fn bsm_delta(p: &OptionParams, vol: f64) -> f64 {
    if vol <= 0.0 {
        return bsm_greeks(p, 0.0).delta;
    }
    let sd = vol * p.t.sqrt();
    let d1 = (p.forward() / p.strike).ln() / sd + 0.5 * sd;
    let df_q = (-p.div * p.t).exp();
    match p.kind {
        OptionKind::Call => df_q * norm_cdf(d1),
        OptionKind::Put => -df_q * norm_cdf(-d1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_call_prices_to_the_cent() {
        let p = OptionParams::new(OptionKind::Call, 42.0, 40.0, 0.5, 0.1, 0.0).expect("valid");
        assert!((bsm_price(&p, 0.2) - 4.76).abs() < 0.005);
    }

    #[test]
    fn zero_vol_gives_discounted_intrinsic() {
        let p = OptionParams::new(OptionKind::Put, 100.0, 120.0, 1.0, 0.0, 0.0).expect("valid");
        assert_eq!(bsm_price(&p, 0.0), 20.0);
        assert_eq!(bsm_greeks(&p, 0.0).delta, -1.0);
    }

    #[test]
    fn invalid_inputs_are_named() {
        assert_eq!(
            OptionParams::new(OptionKind::Call, f64::NAN, 1.0, 1.0, 0.0, 0.0),
            Err(InputError::Spot)
        );
        assert_eq!(
            OptionParams::new(OptionKind::Call, 1.0, 1.0, 0.0, 0.0, 0.0),
            Err(InputError::Time)
        );
    }
}
