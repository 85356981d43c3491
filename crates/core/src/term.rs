//! Term structure of ATM implied vol (spec §5), with each expiry's ex-event vol and the IV-crush
//! forecast read off the same term-structure fit as the event move.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One expiry's ATM vol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermStructurePoint {
    /// Expiration date.
    pub expiration: NaiveDate,
    /// Calendar days to expiry.
    pub days: f64,
    /// ATM implied vol (decimal).
    pub atm_iv: f64,
    /// The same with the event taken out: the fit's diffusion over this expiry, `σ_d·√(τ/T)`
    /// (decimal, calendar-time quoting like `atm_iv`); `None` without a fit.
    #[serde(default)]
    pub ex_event_iv: Option<f64>,
    /// Trading-day time to expiry in sessions (`τ × 252`: the time left of the as-of session
    /// plus the sessions after it).
    #[serde(default)]
    pub trading_days: Option<f64>,
    /// Whether this expiry entered the event-variance fit.
    #[serde(default)]
    pub in_fit: bool,
}

/// The IV-crush forecast of the analysed expiry, from the term-structure fit (vols decimal,
/// calendar-time quoting like the chain's; the crush in vol points).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Forecast {
    /// The analysed expiry's ATM IV once the event has passed: its ex-event IV `σ_d·√(τ/T)`.
    pub post_event_iv: Option<f64>,
    /// Forward vol from the analysed expiry to the next listed one, `σ_d·√(Δτ/ΔT)`: the vol
    /// the market prices for the period after it (both carry the event, which cancels).
    pub forward_vol: Option<f64>,
    /// `(ATM IV − post-event IV) × 100`: the expected crush in vol points.
    pub crush_vol_points: Option<f64>,
    /// The fit's diffusion (ex-event) vol, annualised in trading-day time (× √(sessions/252)
    /// gives the move over that many sessions).
    pub diffusion_vol: Option<f64>,
}

/// The term structure around the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermStructure {
    /// Points sorted by expiration.
    pub points: Vec<TermStructurePoint>,
    /// Front (event expiry) ATM vol / next expiry ATM vol.
    pub front_back_ratio: Option<f64>,
    /// (back vol − front vol) / (back days − front days), vol per calendar day.
    pub slope_per_day: Option<f64>,
    /// Front vol above back vol: the event premium sits in the front.
    pub inverted: bool,
}

/// Builds the term structure from points (any order); the first point is the front.
///
/// # Example
/// ```
/// use ivcrush_core::term::{TermStructurePoint, term_structure};
/// let point = |expiration: &str, days, atm_iv| TermStructurePoint {
///     expiration: expiration.parse().unwrap(),
///     days,
///     atm_iv,
///     ex_event_iv: None,
///     trading_days: None,
///     in_fit: false,
/// };
/// // Given in any order; the event expiry's vol sits above the next one's.
/// let ts = term_structure(vec![point("2026-02-06", 9.0, 0.40), point("2026-01-30", 2.0, 0.70)]);
/// assert_eq!(ts.points[0].expiration.to_string(), "2026-01-30");
/// assert!(ts.inverted);
/// assert!((ts.front_back_ratio.unwrap() - 1.75).abs() < 1e-12);
/// assert!((ts.slope_per_day.unwrap() + 0.3 / 7.0).abs() < 1e-12);
/// ```
pub fn term_structure(mut points: Vec<TermStructurePoint>) -> TermStructure {
    points.retain(|p| p.atm_iv.is_finite() && p.atm_iv > 0.0 && p.days.is_finite());
    points.sort_by_key(|p| p.expiration);
    let (ratio, slope) = match (points.first(), points.get(1)) {
        (Some(f), Some(b)) => (
            Some(f.atm_iv / b.atm_iv),
            (b.days > f.days).then(|| (b.atm_iv - f.atm_iv) / (b.days - f.days)),
        ),
        _ => (None, None),
    };
    TermStructure {
        inverted: ratio.is_some_and(|r| r > 1.0),
        front_back_ratio: ratio,
        slope_per_day: slope,
        points,
    }
}
