//! The as-of of a run: what `--as-of` (or `as_of` in the configuration, `IVCRUSH_AS_OF`)
//! accepts, and the instant it stands for.
//!
//! - a date, `YYYY-MM-DD`: 15:30 New York on that day for the simulated market (markets open,
//!   quotes live), 16:00 (the close) for files;
//! - a date-time in RFC 3339 with an offset (`2026-12-03T15:00:00-05:00`, `…Z`);
//! - a date-time without an offset, `YYYY-MM-DD HH:MM[:SS]` (or with a `T`), read as
//!   **New York** time;
//! - nothing: now while a session is open, else the last close (quotes then are that close's).
//!
//! A date-time is kept as given, at any time of day: before the open the quotes are the previous
//! session's; on a weekend or holiday, or outside the session, the record carries an
//! `outside_session` data-quality note.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use ivcrush_core::calendar::{close_of, is_trading_day, new_york_date, previous_trading_day};
use ivcrush_core::quality::in_session;
use ivcrush_core::{EarningsEvent, Timing};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An as-of as the user gave it: a date or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// A New York date (its instant depends on the provider, see the module docs).
    Date(NaiveDate),
    /// An instant.
    At(DateTime<Utc>),
}

impl From<NaiveDate> for AsOf {
    fn from(d: NaiveDate) -> Self {
        AsOf::Date(d)
    }
}

impl From<DateTime<Utc>> for AsOf {
    fn from(t: DateTime<Utc>) -> Self {
        AsOf::At(t)
    }
}

/// The instant of a New York wall-clock time (`None` inside the spring-forward gap; the earlier
/// of the two in the autumn fold).
pub fn new_york_instant(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    New_York
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// 15:30 New York on `d`: the instant of a date-only as-of of the simulated market.
pub fn sim_instant(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(15, 30, 0)
        .and_then(new_york_instant)
        .unwrap_or_else(|| close_of(d))
}

/// The default as-of at `now`: `now` while a session is open, else the close of the latest
/// session that has closed.
pub fn now_or_last_close(now: DateTime<Utc>) -> DateTime<Utc> {
    if in_session(now) {
        return now;
    }
    let today = new_york_date(now);
    if is_trading_day(today) && now >= close_of(today) {
        close_of(today)
    } else {
        close_of(previous_trading_day(today))
    }
}

const FORMS: &str = "expected YYYY-MM-DD, an RFC 3339 date-time (2026-12-03T15:00:00-05:00) \
                     or YYYY-MM-DD HH:MM in New York time";

impl FromStr for AsOf {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(AsOf::Date(d));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(AsOf::At(t.with_timezone(&Utc)));
        }
        for f in [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
        ] {
            if let Ok(local) = NaiveDateTime::parse_from_str(s, f) {
                return new_york_instant(local).map(AsOf::At).ok_or_else(|| {
                    format!("as-of {s:?} does not exist in New York (clocks moved forward)")
                });
            }
        }
        Err(format!("bad as-of {s:?}: {FORMS}"))
    }
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsOf::Date(d) => write!(f, "{d}"),
            AsOf::At(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

impl Serialize for AsOf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AsOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AsOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(FORMS)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AsOf, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Whether `event`'s report is out at `at`: a BMO report from the start of its day (New York;
/// companies publish before the open, at an hour the calendar does not say), an AMC one (and
/// one of unknown timing, treated as AMC) from the close of its day. A report that is out is
/// never analysed as upcoming: its options no longer trade at the prices that priced it.
pub fn report_out(event: &EarningsEvent, at: DateTime<Utc>) -> bool {
    match event.timing {
        Timing::Bmo => new_york_date(at) >= event.date,
        Timing::Amc | Timing::Unknown => at >= close_of(event.date),
    }
}

/// A short New York rendering of an instant: `2026-12-03 15:00 EST`.
pub fn new_york_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&New_York)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn every_documented_form_parses() {
        assert_eq!(
            "2026-12-03".parse::<AsOf>(),
            Ok(AsOf::Date(
                NaiveDate::from_ymd_opt(2026, 12, 3).expect("date")
            ))
        );
        let three_pm = AsOf::At(at("2026-12-03T20:00:00Z"));
        for s in [
            "2026-12-03T15:00:00-05:00",
            "2026-12-03T20:00:00Z",
            "2026-12-03 15:00",
            "2026-12-03T15:00",
            "2026-12-03 15:00:00",
        ] {
            assert_eq!(s.parse::<AsOf>(), Ok(three_pm), "{s}");
        }
        // Summer: New York is UTC−4.
        assert_eq!(
            "2026-06-01 09:00".parse::<AsOf>(),
            Ok(AsOf::At(at("2026-06-01T13:00:00Z")))
        );
        let e = "2026-03-08 02:30".parse::<AsOf>().expect_err("DST gap");
        assert!(e.contains("does not exist"), "{e}");
        let e = "yesterday".parse::<AsOf>().expect_err("not a date");
        assert!(e.contains("YYYY-MM-DD HH:MM"), "{e}");
    }

    #[test]
    fn a_bmo_report_is_out_from_its_day_an_amc_one_from_the_close() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        let bmo = EarningsEvent {
            date: d,
            timing: Timing::Bmo,
        };
        let amc = EarningsEvent {
            date: d,
            timing: Timing::Amc,
        };
        assert!(
            !report_out(&bmo, at("2026-12-02T23:00:00Z")),
            "the evening before"
        );
        assert!(report_out(&bmo, at("2026-12-03T05:00:00Z")), "midnight");
        assert!(report_out(&bmo, at("2026-12-03T13:00:00Z")), "08:00");
        assert!(!report_out(&amc, at("2026-12-03T20:00:00Z")), "15:00");
        assert!(report_out(&amc, at("2026-12-03T21:00:00Z")), "16:00");
        let unknown = EarningsEvent {
            date: d,
            timing: Timing::Unknown,
        };
        assert!(!report_out(&unknown, at("2026-12-03T20:00:00Z")));
    }

    #[test]
    fn it_round_trips_through_its_text() {
        for a in [
            AsOf::Date(NaiveDate::from_ymd_opt(2026, 2, 2).expect("date")),
            AsOf::At(at("2026-12-03T20:00:00Z")),
        ] {
            assert_eq!(a.to_string().parse::<AsOf>(), Ok(a));
        }
    }

    #[test]
    fn the_default_is_now_in_a_session_else_the_last_close() {
        // Thursday 2026-12-03 (EST): 10:00 in session.
        let t = at("2026-12-03T15:00:00Z");
        assert_eq!(now_or_last_close(t), t);
        // 08:00 before the open: Wednesday's close.
        assert_eq!(
            now_or_last_close(at("2026-12-03T13:00:00Z")),
            at("2026-12-02T21:00:00Z")
        );
        // 18:00 after the close: Thursday's close.
        assert_eq!(
            now_or_last_close(at("2026-12-03T23:00:00Z")),
            at("2026-12-03T21:00:00Z")
        );
        // Saturday noon: Friday's close.
        assert_eq!(
            now_or_last_close(at("2026-12-05T17:00:00Z")),
            at("2026-12-04T21:00:00Z")
        );
        // Thanksgiving 2026-11-26: Wednesday's close.
        assert_eq!(
            now_or_last_close(at("2026-11-26T17:00:00Z")),
            at("2026-11-25T21:00:00Z")
        );
    }
}
