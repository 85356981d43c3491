//! Data quality and sanity gates: what must hold before a number is published, and the caveats
//! every record carries.
//!
//! Vendor data is hostile: fields go missing or arrive as 0, null, strings or stale values. The
//! checks here are pure: the caller hands in the as-of instant it chose (its own clock, never a
//! vendor timestamp) and what the vendor said; a failed gate is a typed [`GateError`] naming the
//! field and the value, a weaker problem a [`DataQuality`] note in the record. A note marked
//! `blocking` means the number is not reliable enough to trade on: no tier is awarded and the
//! row is never `tradeable`.

use crate::calendar::{is_trading_day, new_york_date, previous_trading_day, session_hours};
use crate::forward::parity_forward;
use crate::types::{OptionChain, OptionKind};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// What a data-quality note is about (stable snake_case codes in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QualityCode {
    /// The stock quote is older than the session allows.
    StaleQuote,
    /// The option quotes are older than the session allows.
    StaleOptionQuotes,
    /// The vendor sent no usable timestamp with the quote (missing, 0 or absurd).
    QuoteWithoutDate,
    /// The vendor's greeks were missing or zero (ivcrush solves IVs itself either way).
    VendorGreeksMissing,
    /// A strike near the money has no ask (or no quote) on one side.
    OneSidedNearAtm,
    /// A strike near the money has no bid.
    ZeroBidNearAtm,
    /// The ATM straddle's legs are wide (spread above the configured percent of mid).
    WideSpread,
    /// Crossed (bid > ask) or locked (bid = ask) quotes, excluded from the math.
    CrossedOrLocked,
    /// Contracts the vendor sent for another expiration or underlying, dropped.
    ContractsDropped,
    /// A vendor answered that the request needs a premium plan; a fallback was used.
    PremiumGated,
    /// A vendor rate-limited us while the data was fetched (the data is complete).
    RateLimited,
    /// A value was served from cache after the vendor failed.
    CachedStale,
    /// The as-of instant falls outside a trading session (weekend, holiday, night).
    OutsideSession,
    /// Too few two-sided call/put pairs near the money for a parity forward: the forward of
    /// that expiry comes from the configured rate and yield.
    ForwardFallback,
    /// The parity forward is far from the rate-and-yield forward (a dividend or borrow cost
    /// the configured yield does not carry); the parity forward is used.
    ForwardDisagrees,
}

impl QualityCode {
    /// The snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityCode::StaleQuote => "stale_quote",
            QualityCode::StaleOptionQuotes => "stale_option_quotes",
            QualityCode::QuoteWithoutDate => "quote_without_date",
            QualityCode::VendorGreeksMissing => "vendor_greeks_missing",
            QualityCode::OneSidedNearAtm => "one_sided_near_atm",
            QualityCode::ZeroBidNearAtm => "zero_bid_near_atm",
            QualityCode::WideSpread => "wide_spread",
            QualityCode::CrossedOrLocked => "crossed_or_locked",
            QualityCode::ContractsDropped => "contracts_dropped",
            QualityCode::PremiumGated => "premium_gated",
            QualityCode::RateLimited => "rate_limited",
            QualityCode::CachedStale => "cached_stale",
            QualityCode::OutsideSession => "outside_session",
            QualityCode::ForwardFallback => "forward_fallback",
            QualityCode::ForwardDisagrees => "forward_disagrees",
        }
    }

    /// Whether this problem makes the published number unreliable to trade on.
    ///
    /// Stale prices (quotes from an earlier session, values served from cache after a failure)
    /// are; missing timestamps are not by themselves (the as-of is our fetch time), nor are
    /// thin quotes near the money (the liquidity tier already prices them in).
    pub fn blocks_trading(self) -> bool {
        matches!(
            self,
            QualityCode::StaleQuote | QualityCode::StaleOptionQuotes | QualityCode::CachedStale
        )
    }
}

impl std::fmt::Display for QualityCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One data-quality note of a record: `{code, detail, blocking}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataQuality {
    /// What it is about.
    pub code: QualityCode,
    /// The field, value and reason, for a person.
    pub detail: String,
    /// The number is not reliable enough to trade on while this holds.
    pub blocking: bool,
}

impl DataQuality {
    /// A note with the code's own blocking rule.
    pub fn new(code: QualityCode, detail: impl Into<String>) -> DataQuality {
        DataQuality {
            code,
            detail: detail.into(),
            blocking: code.blocks_trading(),
        }
    }
}

/// Adds `note` unless a note with the same code and detail is already there.
pub fn push_unique(notes: &mut Vec<DataQuality>, note: DataQuality) {
    if !notes
        .iter()
        .any(|n| n.code == note.code && n.detail == note.detail)
    {
        notes.push(note);
    }
}

/// Thresholds of the sanity gates and quality notes (`[analytics.gates]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// Longest time to expiry accepted, in years. Default 5.
    pub max_years_to_expiry: f64,
    /// Largest disagreement between the quoted spot and the spot implied by put–call parity at
    /// the strikes nearest the money, percent. Default 3.
    pub spot_parity_margin_pct: f64,
    /// Largest distance between the ATM strike and the forward, percent of the forward.
    /// Default 5.
    pub atm_max_distance_pct: f64,
    /// Strikes on each side of the forward that count as "near the money". Default 2.
    pub near_atm_strikes: usize,
    /// An ATM leg's spread above this percent of mid is noted as wide. Default 25.
    pub wide_spread_pct: f64,
    /// During a session, a quote older than this many minutes is stale. Default 15.
    pub stale_after_minutes: i64,
    /// A vendor timestamp later than the as-of by more than this many minutes is absurd.
    /// Default 10.
    pub future_tolerance_minutes: i64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_years_to_expiry: 5.0,
            spot_parity_margin_pct: 3.0,
            atm_max_distance_pct: 5.0,
            near_atm_strikes: 2,
            wide_spread_pct: 25.0,
            stale_after_minutes: 15,
            future_tolerance_minutes: 10,
        }
    }
}

impl GateConfig {
    /// Every problem with these thresholds.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let positive = |name: &str, v: f64, p: &mut Vec<String>| {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!("gates.{name} must be > 0, got {v}"));
            }
        };
        positive("max_years_to_expiry", self.max_years_to_expiry, &mut p);
        positive(
            "spot_parity_margin_pct",
            self.spot_parity_margin_pct,
            &mut p,
        );
        positive("atm_max_distance_pct", self.atm_max_distance_pct, &mut p);
        positive("wide_spread_pct", self.wide_spread_pct, &mut p);
        if self.near_atm_strikes == 0 {
            p.push("gates.near_atm_strikes must be at least 1".to_owned());
        }
        if self.stale_after_minutes <= 0 {
            p.push("gates.stale_after_minutes must be > 0".to_owned());
        }
        if self.future_tolerance_minutes < 0 {
            p.push("gates.future_tolerance_minutes must be >= 0".to_owned());
        }
        p
    }
}

/// A sanity gate that failed: the row becomes this error, never a score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// Time to the analysed expiry is not in (0, max].
    #[error(
        "time to expiry of {expiration} is {years:.4} years as of {as_of}: outside (0, {max} years]"
    )]
    TimeToExpiry {
        /// The expiration.
        expiration: NaiveDate,
        /// Calendar years from the as-of.
        years: f64,
        /// The as-of instant.
        as_of: DateTime<Utc>,
        /// The configured maximum.
        max: f64,
    },
    /// Spot missing, zero, negative or not finite.
    #[error("spot price {0} is not a positive number")]
    BadSpot(f64),
    /// No strike near the forward has two-sided call and put quotes.
    #[error(
        "no two-sided call and put quotes within {strikes} strikes of the forward {forward:.2} for {expiration}"
    )]
    NoTwoSidedNearForward {
        /// The expiration.
        expiration: NaiveDate,
        /// The forward.
        forward: f64,
        /// Strikes searched on each side.
        strikes: usize,
    },
    /// The quoted spot disagrees with the spot implied by put–call parity.
    #[error(
        "spot {spot:.4} disagrees with put-call parity of the {expiration} chain (implied spot {implied:.4}, {diff_pct:.2} % apart, more than {margin_pct} %): stale or wrong quote"
    )]
    SpotParityMismatch {
        /// Quoted spot.
        spot: f64,
        /// Spot implied by the chain.
        implied: f64,
        /// |implied / spot − 1| in percent.
        diff_pct: f64,
        /// The configured margin.
        margin_pct: f64,
        /// The chain used.
        expiration: NaiveDate,
    },
    /// The ATM strike is far from the forward (the chain does not cover the money).
    #[error(
        "ATM strike {strike} is {distance_pct:.2} % from the forward {forward:.2} (more than {max_pct} %): the chain does not cover the money"
    )]
    AtmFarFromForward {
        /// The strike called ATM.
        strike: f64,
        /// The forward.
        forward: f64,
        /// Distance in percent of the forward.
        distance_pct: f64,
        /// The configured maximum.
        max_pct: f64,
    },
}

/// Checks the spot.
///
/// # Errors
/// [`GateError::BadSpot`] when it is missing (NaN), zero or negative.
///
/// # Example
/// ```
/// use ivcrush_core::quality::check_spot;
/// assert!(check_spot(251.37).is_ok());
/// assert!(check_spot(0.0).is_err());
/// assert!(check_spot(f64::INFINITY).is_err());
/// ```
pub fn check_spot(spot: f64) -> Result<(), GateError> {
    if spot.is_finite() && spot > 0.0 {
        Ok(())
    } else {
        Err(GateError::BadSpot(spot))
    }
}

/// Checks the time to the analysed expiry, in calendar years from the as-of.
///
/// # Errors
/// [`GateError::TimeToExpiry`] outside `(0, max]`.
pub fn check_time_to_expiry(
    expiration: NaiveDate,
    years: f64,
    as_of: DateTime<Utc>,
    cfg: &GateConfig,
) -> Result<(), GateError> {
    if years.is_finite() && years > 0.0 && years <= cfg.max_years_to_expiry {
        Ok(())
    } else {
        Err(GateError::TimeToExpiry {
            expiration,
            years,
            as_of,
            max: cfg.max_years_to_expiry,
        })
    }
}

/// The spot implied by put–call parity at the (up to three) two-sided strikes nearest the
/// forward: the parity forward of [`parity_forward`] (`F = K + e^{rT}(C − P)`, averaged),
/// discounted back with `e^{−(r−q)T}`.
///
/// # Errors
/// [`GateError::NoTwoSidedNearForward`] when no strike near the forward is two-sided.
pub fn parity_spot(
    chain: &OptionChain,
    forward: f64,
    t: f64,
    rate: f64,
    div: f64,
    cfg: &GateConfig,
) -> Result<f64, GateError> {
    let (implied_forward, _) = parity_forward(chain, forward, t, rate, cfg.near_atm_strikes, 3)
        .ok_or(GateError::NoTwoSidedNearForward {
            expiration: chain.expiration,
            forward,
            strikes: cfg.near_atm_strikes,
        })?;
    Ok(implied_forward * (-(rate - div) * t).exp())
}

/// Checks the quoted spot against put–call parity of the event chain.
///
/// # Errors
/// [`GateError::NoTwoSidedNearForward`] or [`GateError::SpotParityMismatch`].
pub fn check_spot_parity(
    chain: &OptionChain,
    spot: f64,
    forward: f64,
    t: f64,
    rate: f64,
    div: f64,
    cfg: &GateConfig,
) -> Result<(), GateError> {
    let implied = parity_spot(chain, forward, t, rate, div, cfg)?;
    let diff_pct = (implied / spot - 1.0).abs() * 100.0;
    if diff_pct.is_finite() && diff_pct <= cfg.spot_parity_margin_pct {
        Ok(())
    } else {
        Err(GateError::SpotParityMismatch {
            spot,
            implied,
            diff_pct,
            margin_pct: cfg.spot_parity_margin_pct,
            expiration: chain.expiration,
        })
    }
}

/// Checks that the strike called ATM lies near the forward.
///
/// # Errors
/// [`GateError::AtmFarFromForward`].
pub fn check_atm_distance(strike: f64, forward: f64, cfg: &GateConfig) -> Result<(), GateError> {
    let distance_pct = (strike / forward - 1.0).abs() * 100.0;
    if distance_pct.is_finite() && distance_pct <= cfg.atm_max_distance_pct {
        Ok(())
    } else {
        Err(GateError::AtmFarFromForward {
            strike,
            forward,
            distance_pct,
            max_pct: cfg.atm_max_distance_pct,
        })
    }
}

/// Notes on the quotes near the money of `chain`: one-sided and zero-bid strikes, crossed or
/// locked quotes anywhere in the chain, and wide spreads on the ATM straddle's legs.
pub fn chain_notes(
    chain: &OptionChain,
    forward: f64,
    atm_strike: f64,
    cfg: &GateConfig,
) -> Vec<DataQuality> {
    let mut notes = Vec::new();
    let crossed: Vec<String> = chain
        .quotes
        .iter()
        .filter(|q| q.bid > 0.0 && q.ask > 0.0 && q.bid >= q.ask)
        .map(|q| {
            format!(
                "{} {} bid {} ask {}",
                q.strike,
                q.kind.as_str(),
                q.bid,
                q.ask
            )
        })
        .collect();
    if !crossed.is_empty() {
        notes.push(DataQuality::new(
            QualityCode::CrossedOrLocked,
            format!(
                "{} crossed or locked quotes in the {} chain, excluded (e.g. {})",
                crossed.len(),
                chain.expiration,
                crossed[0]
            ),
        ));
    }
    let strikes = chain.strikes();
    let split = strikes.partition_point(|k| *k < forward);
    let near = &strikes[split.saturating_sub(cfg.near_atm_strikes)
        ..(split + cfg.near_atm_strikes).min(strikes.len())];
    let mut zero_bid = Vec::new();
    let mut one_sided = Vec::new();
    for &k in near {
        for kind in [OptionKind::Call, OptionKind::Put] {
            let label = format!("{k} {}", kind.as_str());
            match chain.quote(kind, k) {
                None => one_sided.push(format!("{label} missing")),
                Some(q) if !(q.ask > 0.0) => one_sided.push(format!("{label} no ask")),
                Some(q) if !(q.bid > 0.0) => zero_bid.push(label),
                Some(_) => {}
            }
        }
    }
    if !zero_bid.is_empty() {
        notes.push(DataQuality::new(
            QualityCode::ZeroBidNearAtm,
            format!(
                "no bid near the money of {}: {}",
                chain.expiration,
                zero_bid.join(", ")
            ),
        ));
    }
    if !one_sided.is_empty() {
        notes.push(DataQuality::new(
            QualityCode::OneSidedNearAtm,
            format!(
                "one-sided near the money of {}: {}",
                chain.expiration,
                one_sided.join(", ")
            ),
        ));
    }
    for kind in [OptionKind::Call, OptionKind::Put] {
        if let Some(spread) = chain
            .quote(kind, atm_strike)
            .and_then(|q| q.spread_pct())
            .filter(|s| s.0 > cfg.wide_spread_pct)
        {
            notes.push(DataQuality::new(
                QualityCode::WideSpread,
                format!(
                    "ATM {} {atm_strike} of {}: spread {:.1} % of mid (above {} %)",
                    kind.as_str(),
                    chain.expiration,
                    spread.0,
                    cfg.wide_spread_pct
                ),
            ));
        }
    }
    notes
}

/// The open of the latest session that has begun by `as_of`.
fn latest_session_open(as_of: DateTime<Utc>) -> DateTime<Utc> {
    let today = new_york_date(as_of);
    match session_hours(today) {
        Some((open, _)) if open <= as_of => open,
        _ => {
            let prev = previous_trading_day(today);
            // A trading day always has hours; the fallback only keeps this total.
            session_hours(prev).map_or(as_of, |(open, _)| open)
        }
    }
}

/// Whether `as_of` falls inside a regular session (09:30–16:00 New York on a trading day,
/// 09:30–13:00 on an early close).
pub fn in_session(as_of: DateTime<Utc>) -> bool {
    session_hours(new_york_date(as_of)).is_some_and(|(open, close)| open <= as_of && as_of < close)
}

/// A vendor timestamp checked against our as-of: `None` when it is missing, or absurd (before
/// 2000, or later than the as-of by more than the tolerance). Such a value never moves the
/// as-of; it only cannot vouch for freshness.
pub fn usable_timestamp(
    stamp: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
    cfg: &GateConfig,
) -> Option<DateTime<Utc>> {
    let floor = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single()?;
    stamp.filter(|t| *t >= floor && *t <= as_of + Duration::minutes(cfg.future_tolerance_minutes))
}

/// The staleness note of a quote stamped `stamp` (already through [`usable_timestamp`]), or of
/// its absence. `what` names the quote ("stock quote of AAPL", "option quotes of 2026-01-30").
///
/// A quote is stale when it predates the latest session that had opened by the as-of, or when,
/// inside a session, it is older than `stale_after_minutes`. A Friday close read on Sunday is
/// fresh: no session has happened since.
pub fn staleness_note(
    what: &str,
    code: QualityCode,
    stamp: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
    cfg: &GateConfig,
) -> Option<DataQuality> {
    let Some(stamp) = stamp else {
        return Some(DataQuality::new(
            QualityCode::QuoteWithoutDate,
            format!("{what}: the vendor sent no usable timestamp; freshness unverified"),
        ));
    };
    let age = as_of - stamp;
    let age_text = if age.num_hours() >= 1 {
        format!("{:.1} h", age.num_minutes() as f64 / 60.0)
    } else {
        format!("{} min", age.num_minutes().max(0))
    };
    let open = latest_session_open(as_of);
    if stamp < open {
        return Some(DataQuality::new(
            code,
            format!(
                "{what}: quoted {} ({age_text} old), before the {} session opened",
                stamp.format("%Y-%m-%d %H:%M UTC"),
                new_york_date(open)
            ),
        ));
    }
    if in_session(as_of) && age > Duration::minutes(cfg.stale_after_minutes) {
        return Some(DataQuality::new(
            code,
            format!(
                "{what}: quoted {age_text} ago during the session (limit {} min)",
                cfg.stale_after_minutes
            ),
        ));
    }
    None
}

/// A note when the as-of falls outside a session: on a weekend or holiday, or before the open /
/// after the close (quotes then are the last session's).
pub fn session_note(as_of: DateTime<Utc>) -> Option<DataQuality> {
    let day = new_york_date(as_of);
    if !is_trading_day(day) {
        return Some(DataQuality::new(
            QualityCode::OutsideSession,
            format!("as of {day}, not a trading day: prices are the last session's"),
        ));
    }
    if in_session(as_of) {
        return None;
    }
    let when = if session_hours(day).is_some_and(|(open, _)| as_of < open) {
        "before the open"
    } else {
        "after the close"
    };
    Some(DataQuality::new(
        QualityCode::OutsideSession,
        format!("as of {day} {when}: quotes are from outside the session"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OptionQuote;

    fn q(kind: OptionKind, strike: f64, bid: f64, ask: f64) -> OptionQuote {
        OptionQuote {
            kind,
            strike,
            bid,
            ask,
            last: None,
            volume: 0,
            open_interest: 0,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn spot_gate_rejects_missing_and_non_positive() {
        assert!(check_spot(87.35).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = check_spot(bad).expect_err("bad spot");
            assert!(e.to_string().contains("spot price"), "{e}");
        }
    }

    #[test]
    fn time_gate_rejects_expired_and_decades() {
        let cfg = GateConfig::default();
        let d = NaiveDate::from_ymd_opt(2026, 1, 30).expect("date");
        let as_of = at("2026-01-28T20:30:00Z");
        assert!(check_time_to_expiry(d, 0.005, as_of, &cfg).is_ok());
        let e = check_time_to_expiry(d, 56.1, as_of, &cfg).expect_err("56 years");
        assert!(e.to_string().contains("56.1000 years"), "{e}");
        assert!(check_time_to_expiry(d, 0.0, as_of, &cfg).is_err());
    }

    #[test]
    fn parity_recovers_the_spot_and_catches_a_wrong_one() {
        let cfg = GateConfig::default();
        let exp = NaiveDate::from_ymd_opt(2026, 1, 30).expect("date");
        // Zero rate: C − P = S − K.
        let s: f64 = 100.0;
        let mut quotes = Vec::new();
        for k in [95.0_f64, 97.5, 100.0, 102.5, 105.0] {
            let c = (s - k).max(0.0) + 2.0;
            let p = (k - s).max(0.0) + 2.0;
            quotes.push(q(OptionKind::Call, k, c - 0.05, c + 0.05));
            quotes.push(q(OptionKind::Put, k, p - 0.05, p + 0.05));
        }
        let chain = OptionChain {
            expiration: exp,
            quotes,
            vendor: None,
        };
        let implied = parity_spot(&chain, s, 0.01, 0.0, 0.0, &cfg).expect("pairs");
        assert!((implied - s).abs() < 1e-9, "{implied}");
        assert!(check_spot_parity(&chain, 100.5, 100.5, 0.01, 0.0, 0.0, &cfg).is_ok());
        let e =
            check_spot_parity(&chain, 87.35, 87.35, 0.01, 0.0, 0.0, &cfg).expect_err("spot off");
        assert!(e.to_string().contains("87.35"), "{e}");
    }

    #[test]
    fn no_two_sided_pairs_is_an_error_naming_the_expiry() {
        let exp = NaiveDate::from_ymd_opt(2026, 1, 30).expect("date");
        let chain = OptionChain {
            expiration: exp,
            quotes: vec![
                q(OptionKind::Call, 100.0, 0.0, 1.0),
                q(OptionKind::Put, 100.0, 1.0, 1.2),
            ],
            vendor: None,
        };
        let e = parity_spot(&chain, 100.0, 0.01, 0.0, 0.0, &GateConfig::default())
            .expect_err("one-sided");
        assert!(e.to_string().contains("2026-01-30"), "{e}");
    }

    #[test]
    fn atm_gate() {
        let cfg = GateConfig::default();
        assert!(check_atm_distance(87.5, 87.35, &cfg).is_ok());
        let e = check_atm_distance(100.0, 87.35, &cfg).expect_err("far");
        assert!(e.to_string().contains("ATM strike 100"), "{e}");
    }

    #[test]
    fn chain_notes_find_one_sided_zero_bid_crossed_and_wide() {
        let exp = NaiveDate::from_ymd_opt(2026, 1, 30).expect("date");
        let chain = OptionChain {
            expiration: exp,
            quotes: vec![
                q(OptionKind::Call, 100.0, 1.0, 2.0),
                q(OptionKind::Put, 100.0, 1.5, 1.6),
                q(OptionKind::Call, 102.5, 0.0, 0.5),
                q(OptionKind::Put, 102.5, 2.6, 2.5),
                q(OptionKind::Call, 97.5, 3.0, 3.1),
            ],
            vendor: None,
        };
        let notes = chain_notes(&chain, 100.2, 100.0, &GateConfig::default());
        let codes: Vec<QualityCode> = notes.iter().map(|n| n.code).collect();
        assert!(codes.contains(&QualityCode::CrossedOrLocked), "{notes:?}");
        assert!(codes.contains(&QualityCode::ZeroBidNearAtm), "{notes:?}");
        assert!(codes.contains(&QualityCode::OneSidedNearAtm), "{notes:?}");
        assert!(codes.contains(&QualityCode::WideSpread), "{notes:?}");
        assert!(notes.iter().all(|n| !n.blocking));
    }

    #[test]
    fn staleness_follows_the_session() {
        let cfg = GateConfig::default();
        // Wed 2026-01-28 15:30 New York = 20:30 UTC.
        let as_of = at("2026-01-28T20:30:00Z");
        let fresh = staleness_note(
            "q",
            QualityCode::StaleQuote,
            Some(at("2026-01-28T20:25:00Z")),
            as_of,
            &cfg,
        );
        assert_eq!(fresh, None);
        let old = staleness_note(
            "q",
            QualityCode::StaleQuote,
            Some(at("2026-01-28T19:00:00Z")),
            as_of,
            &cfg,
        )
        .expect("stale in session");
        assert!(old.blocking && old.code == QualityCode::StaleQuote);
        let yesterday = staleness_note(
            "q",
            QualityCode::StaleQuote,
            Some(at("2026-01-27T20:59:00Z")),
            as_of,
            &cfg,
        )
        .expect("previous session");
        assert!(yesterday.detail.contains("before the 2026-01-28 session"));
        // Sunday: Friday's close is the latest there is.
        let sunday = at("2026-02-01T15:00:00Z");
        assert_eq!(
            staleness_note(
                "q",
                QualityCode::StaleQuote,
                Some(at("2026-01-30T20:59:00Z")),
                sunday,
                &cfg
            ),
            None
        );
        let missing =
            staleness_note("q", QualityCode::StaleQuote, None, as_of, &cfg).expect("no date");
        assert_eq!(missing.code, QualityCode::QuoteWithoutDate);
        assert!(!missing.blocking);
    }

    #[test]
    fn absurd_vendor_timestamps_are_dropped() {
        let cfg = GateConfig::default();
        let as_of = at("2026-01-28T20:30:00Z");
        assert_eq!(
            usable_timestamp(Some(DateTime::UNIX_EPOCH), as_of, &cfg),
            None
        );
        assert_eq!(
            usable_timestamp(Some(at("2027-01-01T00:00:00Z")), as_of, &cfg),
            None
        );
        let ok = at("2026-01-28T20:29:00Z");
        assert_eq!(usable_timestamp(Some(ok), as_of, &cfg), Some(ok));
    }

    #[test]
    fn a_half_day_session_ends_at_13_00() {
        // Fri 2026-11-27 closes at 13:00 New York (18:00 UTC).
        assert!(in_session(at("2026-11-27T17:30:00Z")));
        assert!(!in_session(at("2026-11-27T18:30:00Z")));
        let note = session_note(at("2026-11-27T18:30:00Z")).expect("after the close");
        assert!(note.detail.contains("after the close"), "{note:?}");
    }

    #[test]
    fn session_notes() {
        assert!(session_note(at("2026-01-28T20:30:00Z")).is_none());
        assert!(session_note(at("2026-01-31T15:00:00Z")).is_some());
        assert!(
            session_note(at("2026-01-28T13:00:00Z"))
                .expect("pre-open")
                .detail
                .contains("before the open")
        );
    }
}
