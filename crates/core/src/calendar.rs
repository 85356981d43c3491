//! The NYSE trading calendar and the two clocks of the analytics.
//!
//! - Calendar time: ACT/365 years from the as-of instant to 16:00 America/New_York on the
//!   expiration day ([`calendar_years`]); options are priced in it.
//! - Trading-day time: sessions from the as-of day through the expiry day, both counted, / 252
//!   ([`trading_years`]); the earnings event move is extracted in it, because the event variance
//!   arrives on one session, not spread over weekends.
//!
//! Holidays follow NYSE rule 7.2: New Year's Day (a Saturday holiday is not observed), Martin
//! Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from 2022),
//! Independence Day, Labor Day, Thanksgiving and Christmas; Saturday holidays move to Friday and
//! Sunday holidays to Monday. Written by hand: no maintained crate carries the NYSE rules.
//! One-off closures (national days of mourning) are not modelled.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;

/// Trading days per year used for annualisation.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .expect("every month has at least four of each weekday")
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, 5)
        .unwrap_or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Easter Sunday (Gregorian, anonymous computus).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus yields a valid date")
}

/// Saturday → Friday, Sunday → Monday.
fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

/// Whether `d` is an NYSE full-day holiday falling on a weekday.
pub fn is_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    let fixed = |m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).map(observed);
    // New Year's Day: observed on Monday when on Sunday; not observed when on Saturday.
    let new_year = NaiveDate::from_ymd_opt(y, 1, 1)
        .filter(|nd| nd.weekday() != Weekday::Sat)
        .map(observed);
    let candidates = [
        new_year,
        Some(nth_weekday(y, 1, Weekday::Mon, 3)),
        Some(nth_weekday(y, 2, Weekday::Mon, 3)),
        Some(easter(y) - Duration::days(2)),
        Some(last_weekday(y, 5, Weekday::Mon)),
        if y >= 2022 { fixed(6, 19) } else { None },
        fixed(7, 4),
        Some(nth_weekday(y, 9, Weekday::Mon, 1)),
        Some(nth_weekday(y, 11, Weekday::Thu, 4)),
        fixed(12, 25),
    ];
    candidates.iter().flatten().any(|h| *h == d)
}

/// Whether the NYSE holds a regular session on `d`.
pub fn is_trading_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(d)
}

/// The first trading day strictly after `d`.
pub fn next_trading_day(d: NaiveDate) -> NaiveDate {
    let mut x = d + Duration::days(1);
    while !is_trading_day(x) {
        x += Duration::days(1);
    }
    x
}

/// The last trading day strictly before `d`.
pub fn previous_trading_day(d: NaiveDate) -> NaiveDate {
    let mut x = d - Duration::days(1);
    while !is_trading_day(x) {
        x -= Duration::days(1);
    }
    x
}

/// `d` itself if it is a trading day, else the next one.
pub fn this_or_next_trading_day(d: NaiveDate) -> NaiveDate {
    if is_trading_day(d) {
        d
    } else {
        next_trading_day(d)
    }
}

/// Trading sessions from `from` through `to`, both counted (0 when `to < from`).
pub fn trading_days_inclusive(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut n = 0;
    let mut d = from;
    while d <= to {
        if is_trading_day(d) {
            n += 1;
        }
        d += Duration::days(1);
    }
    n
}

/// Trading-day time to expiry: sessions from the as-of day through the expiry day / 252.
pub fn trading_years(as_of: NaiveDate, expiry: NaiveDate) -> f64 {
    f64::from(trading_days_inclusive(as_of, expiry)) / TRADING_DAYS_PER_YEAR
}

/// The instant an option expiring on `expiry` stops trading: 16:00 America/New_York.
pub fn expiry_instant(expiry: NaiveDate) -> DateTime<Utc> {
    let local = expiry
        .and_hms_opt(16, 0, 0)
        .expect("16:00:00 is a valid time");
    New_York
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
        // 16:00 is never inside a DST gap or fold in New York; keep a sane fallback anyway.
        .unwrap_or_else(|| Utc.from_utc_datetime(&local) + Duration::hours(5))
}

/// Calendar time to expiry in ACT/365 years from `as_of` (may be ≤ 0 once expired).
pub fn calendar_years(as_of: DateTime<Utc>, expiry: NaiveDate) -> f64 {
    let secs = (expiry_instant(expiry) - as_of).num_milliseconds() as f64 / 1000.0;
    secs / (365.0 * 86_400.0)
}

/// The New York calendar date of an instant.
pub fn new_york_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&New_York).date_naive()
}

/// The as-of instant used when only a date is known: 16:00 New York of that day (the close).
pub fn close_of(d: NaiveDate) -> DateTime<Utc> {
    expiry_instant(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn known_2026_holidays_are_closed() {
        for h in [
            "2026-01-01",
            "2026-01-19",
            "2026-02-16",
            "2026-04-03",
            "2026-05-25",
            "2026-06-19",
            "2026-07-03",
            "2026-09-07",
            "2026-11-26",
            "2026-12-25",
        ] {
            assert!(!is_trading_day(d(h)), "{h} should be a holiday");
        }
        assert!(is_trading_day(d("2026-01-02")));
        assert!(is_trading_day(d("2025-11-28")), "half day is a session");
    }

    #[test]
    fn new_year_on_saturday_is_not_observed_on_friday() {
        // 2022-01-01 was a Saturday; NYSE traded on Friday 2021-12-31.
        assert!(is_trading_day(d("2021-12-31")));
    }

    #[test]
    fn trading_day_time_counts_both_ends() {
        assert_eq!(trading_days_inclusive(d("2026-01-28"), d("2026-01-30")), 3);
        assert_eq!(trading_days_inclusive(d("2026-01-28"), d("2026-02-06")), 8);
    }

    #[test]
    fn calendar_time_matches_the_fixture_scenario() {
        let as_of: DateTime<Utc> = "2026-01-28T20:00:00Z".parse().expect("instant");
        assert!((calendar_years(as_of, d("2026-01-30")) - 0.005594).abs() < 1e-6);
        assert!((calendar_years(as_of, d("2026-02-06")) - 0.024772).abs() < 1e-6);
    }

    #[test]
    fn next_trading_day_skips_weekends_and_holidays() {
        assert_eq!(next_trading_day(d("2026-01-16")), d("2026-01-20"));
        assert_eq!(previous_trading_day(d("2026-01-20")), d("2026-01-16"));
    }
}
