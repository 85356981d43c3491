//! The implied earnings move (spec §2): event-expiry selection, the ATM straddle, the
//! strike-interpolated straddle, and the event move extracted from the term structure.

use crate::moves::reaction_date;
use crate::stats::lerp;
use crate::types::{EarningsEvent, OptionChain, OptionKind, Pct};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// `√(2/π)`: the expected absolute value of a standard normal.
pub const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// The first listed expiration that trades after the market reacts: on or after the reaction
/// session (the report day for BMO, the next trading day for AMC and UNKNOWN).
pub fn event_expiry(expirations: &[NaiveDate], event: &EarningsEvent) -> Option<NaiveDate> {
    let reaction = reaction_date(event);
    expirations.iter().copied().filter(|e| *e >= reaction).min()
}

/// Why an implied move could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImpliedMoveError {
    /// No strike has a valid two-sided call and put quote.
    #[error("no strike with valid call and put quotes")]
    NoStraddle,
    /// Spot is not a finite positive number.
    #[error("spot must be a finite number > 0")]
    BadSpot,
    /// The term structure needs two expiries with distinct times and finite vols.
    #[error("need at least two post-event expiries with distinct times and finite ATM vols")]
    TooFewExpiries,
}

/// The straddle-based implied move of one expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StraddleMove {
    /// Strike nearest the forward with a valid straddle.
    pub atm_strike: f64,
    /// Call mid + put mid at `atm_strike`.
    pub straddle_mid: f64,
    /// `straddle_mid / spot × 100`: the expected absolute move.
    pub straddle_pct: Pct,
    /// Straddle value interpolated linearly between the strikes bracketing the forward,
    /// / spot × 100 (equals `straddle_pct` when the forward sits on a strike or is not bracketed).
    pub interpolated_pct: Pct,
}

fn straddle_at(chain: &OptionChain, strike: f64) -> Option<f64> {
    let c = chain.quote(OptionKind::Call, strike)?;
    let p = chain.quote(OptionKind::Put, strike)?;
    (c.is_valid() && p.is_valid()).then(|| c.mid() + p.mid())
}

/// Straddle and interpolated implied move for `chain` given spot and forward.
///
/// # Errors
/// [`ImpliedMoveError::NoStraddle`] when no strike has valid quotes on both sides.
pub fn straddle_move(
    chain: &OptionChain,
    spot: f64,
    forward: f64,
) -> Result<StraddleMove, ImpliedMoveError> {
    if !(spot.is_finite() && spot > 0.0) {
        return Err(ImpliedMoveError::BadSpot);
    }
    let straddles: Vec<(f64, f64)> = chain
        .strikes()
        .into_iter()
        .filter_map(|k| straddle_at(chain, k).map(|v| (k, v)))
        .collect();
    let &(atm_strike, straddle_mid) = straddles
        .iter()
        .min_by(|a, b| (a.0 - forward).abs().total_cmp(&(b.0 - forward).abs()))
        .ok_or(ImpliedMoveError::NoStraddle)?;
    let lo = straddles.iter().rev().find(|(k, _)| *k <= forward);
    let hi = straddles.iter().find(|(k, _)| *k >= forward);
    let interpolated = match (lo, hi) {
        (Some(&(k0, v0)), Some(&(k1, v1))) => lerp(k0, v0, k1, v1, forward),
        _ => straddle_mid,
    };
    Ok(StraddleMove {
        atm_strike,
        straddle_mid,
        straddle_pct: Pct(straddle_mid / spot * 100.0),
        interpolated_pct: Pct(interpolated / spot * 100.0),
    })
}

/// One expiry's ATM vol with both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TermPoint {
    /// Calendar years to expiry (the clock the vol is quoted in).
    pub t_calendar: f64,
    /// Trading-day years to expiry (sessions through expiry / 252).
    pub tau_trading: f64,
    /// ATM implied vol (calendar time).
    pub atm_iv: f64,
}

/// Which clock and fit produced the event variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMoveMethod {
    /// Two expiries, trading-day time (Dubinsky–Johannes).
    TradingDaysTwoExpiries,
    /// Three or more expiries, least squares `w = σ_d²·τ + E` in trading-day time.
    TradingDaysLeastSquares,
}

/// The event move extracted from the term structure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EventMove {
    /// Event variance `E` (log-return variance of the event, trading-day fit), ≥ 0.
    pub event_variance: f64,
    /// `100·√(2/π)·√E`: the expected absolute event move.
    pub event_pct: Pct,
    /// The same with calendar time (shown beside it; biased by weekends).
    pub calendar_pct: Pct,
    /// Annualised ex-event (diffusion) vol in trading-day time, `√slope`.
    pub diffusion_vol: f64,
    /// Clock and fit used.
    pub method: EventMoveMethod,
    /// The fit gave `E < 0`, reported as 0 (front not priced for an event).
    pub negative_variance_clamped: bool,
}

/// Least-squares line `w = a·x + b` → `(a, b)`; `None` when the xs do not vary.
fn fit_line(xs: &[f64], ws: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let mw = ws.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxw: f64 = xs.iter().zip(ws).map(|(x, w)| (x - mx) * (w - mw)).sum();
    if !(sxx > 0.0) {
        return None;
    }
    let a = sxw / sxx;
    Some((a, mw - a * mx))
}

/// Event variance from post-event expiries: each expiry's total variance `w = σ²·T` (calendar
/// `T`) is fitted as `w = σ_d²·τ + E` in trading-day time `τ`; with two expiries this is
/// exactly `E = (w₁/τ₁ − w₂/τ₂) / (1/τ₁ − 1/τ₂)`.
///
/// # Errors
/// [`ImpliedMoveError::TooFewExpiries`] with fewer than two usable points.
pub fn event_move(points: &[TermPoint]) -> Result<EventMove, ImpliedMoveError> {
    let pts: Vec<&TermPoint> = points
        .iter()
        .filter(|p| {
            p.atm_iv.is_finite()
                && p.atm_iv > 0.0
                && p.t_calendar > 0.0
                && p.tau_trading > 0.0
                && p.t_calendar.is_finite()
                && p.tau_trading.is_finite()
        })
        .collect();
    if pts.len() < 2 {
        return Err(ImpliedMoveError::TooFewExpiries);
    }
    let w: Vec<f64> = pts
        .iter()
        .map(|p| p.atm_iv * p.atm_iv * p.t_calendar)
        .collect();
    let tau: Vec<f64> = pts.iter().map(|p| p.tau_trading).collect();
    let cal: Vec<f64> = pts.iter().map(|p| p.t_calendar).collect();
    let (slope, e) = fit_line(&tau, &w).ok_or(ImpliedMoveError::TooFewExpiries)?;
    let (_, e_cal) = fit_line(&cal, &w).ok_or(ImpliedMoveError::TooFewExpiries)?;
    let clamped = e < 0.0;
    let e = e.max(0.0);
    Ok(EventMove {
        event_variance: e,
        event_pct: Pct(100.0 * SQRT_2_OVER_PI * e.sqrt()),
        calendar_pct: Pct(100.0 * SQRT_2_OVER_PI * e_cal.max(0.0).sqrt()),
        diffusion_vol: slope.max(0.0).sqrt(),
        method: if pts.len() == 2 {
            EventMoveMethod::TradingDaysTwoExpiries
        } else {
            EventMoveMethod::TradingDaysLeastSquares
        },
        negative_variance_clamped: clamped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Timing;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn amc_event_expiry_is_on_or_after_the_next_session() {
        let exps = [d("2026-01-30"), d("2026-02-06"), d("2026-01-29")];
        let amc = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        };
        assert_eq!(event_expiry(&exps, &amc), Some(d("2026-01-30")));
        let bmo = EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Bmo,
        };
        assert_eq!(event_expiry(&exps, &bmo), Some(d("2026-01-29")));
    }

    #[test]
    fn fixture_vols_give_the_trading_day_event_move() {
        // ../shared/fixtures/vendors/README.md: 3.59 % in trading-day time, 3.89 % in calendar.
        let pts = [
            TermPoint {
                t_calendar: 49.0 / 24.0 / 365.0,
                tau_trading: 3.0 / 252.0,
                atm_iv: 0.696,
            },
            TermPoint {
                t_calendar: 217.0 / 24.0 / 365.0,
                tau_trading: 8.0 / 252.0,
                atm_iv: 0.394,
            },
        ];
        let m = event_move(&pts).expect("two expiries");
        assert!((m.event_pct.0 - 3.59).abs() < 0.01, "{:?}", m);
        assert!((m.calendar_pct.0 - 3.89).abs() < 0.02, "{:?}", m);
        assert_eq!(m.method, EventMoveMethod::TradingDaysTwoExpiries);
    }

    #[test]
    fn inverted_variance_is_clamped_with_a_flag() {
        let pts = [
            TermPoint {
                t_calendar: 0.01,
                tau_trading: 0.01,
                atm_iv: 0.2,
            },
            TermPoint {
                t_calendar: 0.05,
                tau_trading: 0.05,
                atm_iv: 0.4,
            },
        ];
        let m = event_move(&pts).expect("two expiries");
        assert!(m.negative_variance_clamped);
        assert_eq!(m.event_pct.0, 0.0);
    }
}
