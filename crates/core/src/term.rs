//! Term structure of ATM implied vol (spec §5).

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
