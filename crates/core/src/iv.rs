//! Implied volatility with typed failures.
//!
//! Wraps Jäckel's "Let's Be Rational" (the `implied-vol` crate): two iterations to the attainable
//! precision, ≈1e-15 relative where the price carries information. A price that cannot carry a
//! volatility is refused with a reason ([`IvError`]); in particular a zero or sub-intrinsic price
//! never becomes σ = 0.

use crate::pricing::OptionParams;
use crate::types::OptionKind;
use implied_vol::{DefaultSpecialFn, ImpliedBlackVolatility};

/// Why no implied volatility exists for a price.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IvError {
    /// The price is not a finite number ≥ 0.
    #[error("invalid price: must be a finite number >= 0")]
    InvalidPrice,
    /// The price is exactly zero: only σ = 0 would fit, which carries no information.
    #[error("zero price")]
    ZeroPrice,
    /// The price is below the discounted intrinsic value: no σ reproduces it.
    #[error("below intrinsic: price {price} < intrinsic {intrinsic}")]
    BelowIntrinsic {
        /// The price given.
        price: f64,
        /// The discounted intrinsic value.
        intrinsic: f64,
    },
    /// The price equals the intrinsic value (no time value left in binary64).
    #[error("no time value")]
    NoTimeValue,
    /// The price reaches the σ → ∞ limit (spot·e^{−qT} for a call, strike·e^{−rT} for a put).
    #[error("above maximum: price {price} >= bound {bound}")]
    AboveMaximum {
        /// The price given.
        price: f64,
        /// The upper bound of a European option's price.
        bound: f64,
    },
}

impl IvError {
    /// A short machine-readable code: `invalid_price`, `zero_price`, `below_intrinsic`,
    /// `no_time_value`, `above_maximum`.
    pub fn code(&self) -> &'static str {
        match self {
            IvError::InvalidPrice => "invalid_price",
            IvError::ZeroPrice => "zero_price",
            IvError::BelowIntrinsic { .. } => "below_intrinsic",
            IvError::NoTimeValue => "no_time_value",
            IvError::AboveMaximum { .. } => "above_maximum",
        }
    }
}

/// The Black–Scholes volatility that reproduces `price` (a present value) for `p`.
///
/// # Errors
/// [`IvError`] when the price is invalid, zero, at or below intrinsic, or at or above the
/// price bound.
///
/// # Example
/// ```
/// use ivcrush_core::{IvError, OptionKind, OptionParams, bsm_price, implied_vol};
/// let p = OptionParams::new(OptionKind::Put, 100.0, 90.0, 0.1, 0.04, 0.01).unwrap();
/// let price = bsm_price(&p, 0.45);
/// assert!((implied_vol(&p, price).unwrap() - 0.45).abs() < 1e-12);
/// // Prices no volatility can produce are typed errors, not NaN.
/// assert_eq!(implied_vol(&p, 0.0), Err(IvError::ZeroPrice));
/// assert_eq!(implied_vol(&p, f64::NAN).unwrap_err().code(), "invalid_price");
/// assert_eq!(implied_vol(&p, 1_000.0).unwrap_err().code(), "above_maximum");
/// ```
#[inline]
pub fn implied_vol(p: &OptionParams, price: f64) -> Result<f64, IvError> {
    if !price.is_finite() || price < 0.0 {
        return Err(IvError::InvalidPrice);
    }
    if price == 0.0 {
        return Err(IvError::ZeroPrice);
    }
    let df = p.discount();
    let f = p.forward();
    let k = p.strike;
    // Work in undiscounted (forward) terms, as the solver does.
    let u = price / df;
    let (intrinsic, bound) = match p.kind {
        OptionKind::Call => ((f - k).max(0.0), f),
        OptionKind::Put => ((k - f).max(0.0), k),
    };
    if u >= bound {
        return Err(IvError::AboveMaximum {
            price,
            bound: bound * df,
        });
    }
    // The intrinsic value itself carries rounding of order ulp(max(F, K)): a price within a few
    // of those ulps of it has no resolvable time value rather than being "below intrinsic".
    let slack = 4.0 * f64::EPSILON * f.max(k);
    if u <= intrinsic + slack && u >= intrinsic - slack && intrinsic > 0.0 {
        return Err(IvError::NoTimeValue);
    }
    if u < intrinsic {
        return Err(IvError::BelowIntrinsic {
            price,
            intrinsic: intrinsic * df,
        });
    }
    if u == intrinsic {
        return Err(IvError::NoTimeValue);
    }
    let solved = ImpliedBlackVolatility::builder()
        .option_price(u)
        .forward(f)
        .strike(k)
        .expiry(p.t)
        .is_call(p.kind.is_call())
        .build_unchecked()
        .calculate::<DefaultSpecialFn>();
    match solved {
        Some(s) if s.is_finite() && s > 0.0 => Ok(s),
        Some(s) if s.is_infinite() => Err(IvError::AboveMaximum {
            price,
            bound: bound * df,
        }),
        // σ = 0 or no root although the price is strictly inside the bounds: the time value is
        // below what binary64 can resolve.
        _ => Err(IvError::NoTimeValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::bsm_price;

    #[test]
    fn round_trips_hull_example() {
        let p = OptionParams::new(OptionKind::Call, 42.0, 40.0, 0.5, 0.1, 0.0).expect("valid");
        let v = implied_vol(&p, bsm_price(&p, 0.2)).expect("solvable");
        assert!((v - 0.2).abs() < 1e-14, "{v}");
    }

    #[test]
    fn zero_and_negative_prices_are_refused() {
        let p = OptionParams::new(OptionKind::Put, 100.0, 100.0, 0.25, 0.04, 0.0).expect("valid");
        assert_eq!(implied_vol(&p, 0.0), Err(IvError::ZeroPrice));
        assert_eq!(implied_vol(&p, -0.01), Err(IvError::InvalidPrice));
        assert_eq!(implied_vol(&p, f64::NAN), Err(IvError::InvalidPrice));
    }
}
