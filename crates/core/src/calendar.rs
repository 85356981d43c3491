//! The NYSE trading calendar and the two clocks of the analytics.
//!
//! - Calendar time: ACT/365 years from the as-of instant to 16:00 America/New_York on the
//!   expiration day ([`CalendarYears`], [`calendar_years`]); options are priced in it.
//! - Trading-day time ([`TradingYears`], [`trading_years_at`], spec §2): the share of the as-of session still ahead
//!   plus the sessions after the as-of day through the expiry day, / 252; the earnings event move
//!   is extracted in it, because the event variance arrives on one session, not spread over
//!   weekends. The as-of session counts only for its time left: counting it whole late in the day
//!   adds almost a day of diffusion that the quotes no longer carry, and the event-variance
//!   difference takes it out of the event (near a report that halves the event move).
//!
//! The two clocks and their day counts (365 calendar days, 252 sessions a year) live here only:
//! the rest of the core converts through [`CalendarYears`], [`TradingYears`] and
//! [`ExpiryTime`] rather than multiplying by 365 or 252 itself.
//!
//! Holidays follow NYSE rule 7.2: New Year's Day (a Saturday holiday is not observed), Martin
//! Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day, Juneteenth (from 2022),
//! Independence Day, Labor Day, Thanksgiving and Christmas; Saturday holidays move to Friday and
//! Sunday holidays to Monday. Early closes (13:00 New York): the day after Thanksgiving,
//! Christmas Eve and July 3 whenever they are sessions (a Friday July 3 or December 24 is the
//! observed holiday itself). Written by hand: no maintained crate carries the NYSE rules.
//! One-off closures (national days of mourning) are not modelled.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;

/// Trading days per year used for annualisation.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// Calendar days per year of ACT/365 time.
pub const CALENDAR_DAYS_PER_YEAR: f64 = 365.0;

/// Calendar time in ACT/365 years: what options are priced in.
///
/// Kept apart from [`TradingYears`] so that the two clocks cannot be mixed silently; both are
/// converted to and from days only here.
///
/// ```
/// use ivcrush_core::calendar::CalendarYears;
/// let week = CalendarYears::from_days(7.0);
/// assert_eq!(week.years(), 7.0 / 365.0);
/// assert!((week.days() - 7.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct CalendarYears(pub f64);

impl CalendarYears {
    /// ACT/365 years from `as_of` to 16:00 America/New_York on `expiry` (≤ 0 once expired).
    pub fn to_expiry(as_of: DateTime<Utc>, expiry: NaiveDate) -> CalendarYears {
        let secs = (expiry_instant(expiry) - as_of).num_milliseconds() as f64 / 1000.0;
        CalendarYears(secs / (CALENDAR_DAYS_PER_YEAR * 86_400.0))
    }
    /// `days` calendar days.
    pub fn from_days(days: f64) -> CalendarYears {
        CalendarYears(days / CALENDAR_DAYS_PER_YEAR)
    }
    /// In years.
    pub fn years(self) -> f64 {
        self.0
    }
    /// In calendar days.
    pub fn days(self) -> f64 {
        self.0 * CALENDAR_DAYS_PER_YEAR
    }
}

/// Trading-day time in years of 252 sessions: what the earnings event move is extracted in
/// (spec §2).
///
/// ```
/// use ivcrush_core::calendar::TradingYears;
/// let three = TradingYears::from_sessions(3.0);
/// assert_eq!(three.years(), 3.0 / 252.0);
/// assert!((three.sessions() - 3.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct TradingYears(pub f64);

impl TradingYears {
    /// Trading-day time to expiry from the as-of instant: the share of the as-of session still
    /// ahead plus the sessions after the as-of day through the expiry day (0 once the expiry
    /// day has passed). See [`trading_years_at`].
    pub fn to_expiry(as_of: DateTime<Utc>, expiry: NaiveDate) -> TradingYears {
        let day = new_york_date(as_of);
        if expiry < day {
            return TradingYears(0.0);
        }
        let after = trading_days_inclusive(day + Duration::days(1), expiry);
        TradingYears::from_sessions(session_share_left(as_of) + f64::from(after))
    }
    /// `sessions` trading sessions.
    pub fn from_sessions(sessions: f64) -> TradingYears {
        TradingYears(sessions / TRADING_DAYS_PER_YEAR)
    }
    /// In years.
    pub fn years(self) -> f64 {
        self.0
    }
    /// In sessions.
    pub fn sessions(self) -> f64 {
        self.0 * TRADING_DAYS_PER_YEAR
    }
}

/// The time to one expiry on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExpiryTime {
    /// ACT/365 calendar time (pricing).
    pub calendar: CalendarYears,
    /// Trading-day time (the event fit).
    pub trading: TradingYears,
}

impl ExpiryTime {
    /// Both clocks from `as_of` to `expiry`.
    ///
    /// # Example
    /// ```
    /// use chrono::{DateTime, Utc};
    /// use ivcrush_core::calendar::{ExpiryTime, calendar_years, trading_years_at};
    /// let as_of: DateTime<Utc> = "2026-01-28T20:00:00Z".parse().unwrap();
    /// let friday = "2026-01-30".parse().unwrap();
    /// let time = ExpiryTime::to_expiry(as_of, friday);
    /// assert_eq!(time.calendar.years(), calendar_years(as_of, friday));
    /// assert_eq!(time.trading.years(), trading_years_at(as_of, friday));
    /// assert!((time.trading.sessions() - (2.0 + 1.0 / 6.5)).abs() < 1e-12);
    /// assert!((time.calendar.days() - 49.0 / 24.0).abs() < 1e-9);
    /// ```
    pub fn to_expiry(as_of: DateTime<Utc>, expiry: NaiveDate) -> ExpiryTime {
        ExpiryTime {
            calendar: CalendarYears::to_expiry(as_of, expiry),
            trading: TradingYears::to_expiry(as_of, expiry),
        }
    }
}

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

/// The NYSE full-day holidays of `year` (each on a weekday; `None` where a rule yields none).
fn holidays(y: i32) -> [Option<NaiveDate>; 10] {
    let fixed = |m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).map(observed);
    // New Year's Day: observed on Monday when on Sunday; not observed when on Saturday.
    let new_year = NaiveDate::from_ymd_opt(y, 1, 1)
        .filter(|nd| nd.weekday() != Weekday::Sat)
        .map(observed);
    [
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
    ]
}

/// Whether `d` is an NYSE full-day holiday falling on a weekday.
pub fn is_holiday(d: NaiveDate) -> bool {
    holidays(d.year()).iter().flatten().any(|h| *h == d)
}

/// Whether the NYSE holds a regular session on `d`.
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use ivcrush_core::calendar::is_trading_day;
/// let d = |s: &str| s.parse::<NaiveDate>().unwrap();
/// assert!(is_trading_day(d("2026-01-28")));      // a Wednesday
/// assert!(!is_trading_day(d("2026-01-31")));     // a Saturday
/// assert!(!is_trading_day(d("2026-04-03")));     // Good Friday
/// assert!(!is_trading_day(d("2026-07-03")));     // Independence Day observed (July 4 is a Saturday)
/// ```
pub fn is_trading_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(d)
}

/// The first trading day strictly after `d`.
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use ivcrush_core::calendar::{next_trading_day, previous_trading_day, this_or_next_trading_day};
/// let d = |s: &str| s.parse::<NaiveDate>().unwrap();
/// // Friday 2026-01-16 → Tuesday 2026-01-20: the weekend and Martin Luther King Jr. Day skipped.
/// assert_eq!(next_trading_day(d("2026-01-16")), d("2026-01-20"));
/// assert_eq!(previous_trading_day(d("2026-01-20")), d("2026-01-16"));
/// assert_eq!(this_or_next_trading_day(d("2026-01-16")), d("2026-01-16"));
/// ```
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
///
/// Counted arithmetically (weekdays minus the holidays of the years spanned) rather than day by
/// day: the analysis asks for it once per listed expiry, up to months ahead.
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// use ivcrush_core::calendar::trading_days_inclusive;
/// let d = |s: &str| s.parse::<NaiveDate>().unwrap();
/// assert_eq!(trading_days_inclusive(d("2026-01-28"), d("2026-01-30")), 3);
/// assert_eq!(trading_days_inclusive(d("2026-01-28"), d("2026-02-06")), 8);
/// assert_eq!(trading_days_inclusive(d("2026-01-30"), d("2026-01-28")), 0);
/// ```
pub fn trading_days_inclusive(from: NaiveDate, to: NaiveDate) -> u32 {
    if to < from {
        return 0;
    }
    let days = (to - from).num_days() + 1;
    let mut weekdays = days / 7 * 5;
    let mut d = from + Duration::days(days / 7 * 7);
    while d <= to {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            weekdays += 1;
        }
        d += Duration::days(1);
    }
    // Every holiday falls on a weekday (observed dates included), so each one in range removes
    // exactly one weekday.
    let closed = (from.year()..=to.year())
        .flat_map(holidays)
        .flatten()
        .filter(|h| *h >= from && *h <= to)
        .count() as i64;
    u32::try_from(weekdays - closed).unwrap_or(0)
}

/// Trading-day time counting whole sessions: sessions from the as-of day through the expiry
/// day / 252. Kept for date-only callers; the analytics use [`trading_years_at`], which counts
/// the as-of session only for its time left (spec §2).
pub fn trading_years(as_of: NaiveDate, expiry: NaiveDate) -> f64 {
    TradingYears::from_sessions(f64::from(trading_days_inclusive(as_of, expiry))).years()
}

/// Whether `d` is an NYSE early close (13:00 New York): the day after Thanksgiving, Christmas
/// Eve and July 3, when they are sessions at all.
pub fn is_half_day(d: NaiveDate) -> bool {
    if !is_trading_day(d) {
        return false;
    }
    let day_after_thanksgiving = nth_weekday(d.year(), 11, Weekday::Thu, 4) + Duration::days(1);
    d == day_after_thanksgiving
        || (d.month() == 12 && d.day() == 24)
        || (d.month() == 7 && d.day() == 3)
}

/// `hh:mm` New York on `d`, in UTC.
fn new_york_instant(d: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let local = d
        .and_hms_opt(hour, minute, 0)
        .expect("session times are valid clock times");
    New_York
        .from_local_datetime(&local)
        .single()
        // Session times are never inside a DST gap or fold in New York (those are at 02:00);
        // keep a sane fallback anyway.
        .map_or_else(
            || Utc.from_utc_datetime(&local) + Duration::hours(5),
            |t| t.with_timezone(&Utc),
        )
}

/// The regular session of `d` as `(open, close)` instants: 09:30–16:00 New York, 09:30–13:00 on
/// an early close; `None` on weekends and holidays.
pub fn session_hours(d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if !is_trading_day(d) {
        return None;
    }
    let close = if is_half_day(d) { (13, 0) } else { (16, 0) };
    Some((
        new_york_instant(d, 9, 30),
        new_york_instant(d, close.0, close.1),
    ))
}

/// The share of the as-of session still ahead at `as_of` (spec §2): 1 before the open, 0 after
/// the close or on a day without a session, linear in between (a half day over its own hours).
///
/// # Example
/// ```
/// use chrono::{DateTime, Utc};
/// use ivcrush_core::calendar::{is_half_day, session_share_left};
/// let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
/// assert_eq!(session_share_left(at("2026-01-28T13:00:00Z")), 1.0); // 08:00 New York
/// assert!((session_share_left(at("2026-01-28T20:00:00Z")) - 1.0 / 6.5).abs() < 1e-12);
/// assert_eq!(session_share_left(at("2026-01-31T15:00:00Z")), 0.0); // Saturday
/// // The day after Thanksgiving closes at 13:00: at 11:15 half of its 3.5 hours are left.
/// assert!(is_half_day("2026-11-27".parse().unwrap()));
/// assert!((session_share_left(at("2026-11-27T16:15:00Z")) - 0.5).abs() < 1e-12);
/// ```
pub fn session_share_left(as_of: DateTime<Utc>) -> f64 {
    let Some((open, close)) = session_hours(new_york_date(as_of)) else {
        return 0.0;
    };
    if as_of <= open {
        1.0
    } else if as_of >= close {
        0.0
    } else {
        let left = (close - as_of).num_milliseconds() as f64;
        let length = (close - open).num_milliseconds() as f64;
        (left / length).clamp(0.0, 1.0)
    }
}

/// Trading-day time to expiry from the as-of instant (spec §2), in years of 252 sessions: the
/// share of the as-of session still ahead plus the sessions after the as-of day through the
/// expiry day (0 once the expiry day has passed).
///
/// E.g. as of a Wednesday before the open, that week's Friday is 3/252; as of Wednesday 15:00
/// New York it is (1/6.5 + 2)/252; after the close, 2/252.
///
/// # Example
/// ```
/// use chrono::{DateTime, NaiveDate, Utc};
/// use ivcrush_core::calendar::trading_years_at;
/// let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
/// let friday: NaiveDate = "2026-01-30".parse().unwrap();
/// // Wednesday before the open: Wednesday, Thursday and Friday are all ahead.
/// assert!((trading_years_at(at("2026-01-28T13:00:00Z"), friday) - 3.0 / 252.0).abs() < 1e-15);
/// // 15:00 New York: one hour of the 6.5-hour session is left.
/// let tau = trading_years_at(at("2026-01-28T20:00:00Z"), friday);
/// assert!((tau - (1.0 / 6.5 + 2.0) / 252.0).abs() < 1e-15);
/// // After the expiry day: no time left.
/// assert_eq!(trading_years_at(at("2026-01-31T15:00:00Z"), friday), 0.0);
/// ```
pub fn trading_years_at(as_of: DateTime<Utc>, expiry: NaiveDate) -> f64 {
    TradingYears::to_expiry(as_of, expiry).years()
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
///
/// # Example
/// ```
/// use chrono::{DateTime, NaiveDate, Utc};
/// use ivcrush_core::calendar::calendar_years;
/// let as_of: DateTime<Utc> = "2026-01-28T20:00:00Z".parse().unwrap();
/// let friday: NaiveDate = "2026-01-30".parse().unwrap();
/// // 15:00 Wednesday to 16:00 Friday New York: 49 hours.
/// assert!((calendar_years(as_of, friday) - 49.0 / 24.0 / 365.0).abs() < 1e-12);
/// assert!(calendar_years(as_of, "2026-01-27".parse().unwrap()) < 0.0);
/// ```
pub fn calendar_years(as_of: DateTime<Utc>, expiry: NaiveDate) -> f64 {
    CalendarYears::to_expiry(as_of, expiry).years()
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
    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    #[test]
    fn session_count_agrees_with_a_day_by_day_walk() {
        let naive = |from: NaiveDate, to: NaiveDate| {
            let mut n = 0;
            let mut x = from;
            while x <= to {
                n += u32::from(is_trading_day(x));
                x += Duration::days(1);
            }
            n
        };
        let start = d("2021-12-20");
        for a in 0..400 {
            let from = start + Duration::days(a);
            for len in [0, 1, 2, 3, 6, 7, 8, 13, 30, 45, 200, 800] {
                let to = from + Duration::days(len);
                assert_eq!(
                    trading_days_inclusive(from, to),
                    naive(from, to),
                    "{from}..{to}"
                );
            }
            assert_eq!(trading_days_inclusive(from, from - Duration::days(1)), 0);
        }
    }

    #[test]
    fn early_closes_are_the_nyse_half_days() {
        for h in [
            "2025-07-03",
            "2025-11-28",
            "2025-12-24",
            "2026-11-27",
            "2026-12-24",
            "2024-07-03",
            "2023-07-03",
        ] {
            assert!(is_half_day(d(h)), "{h} closes at 13:00");
        }
        // 2026-07-03 is the observed Independence Day (closed), 2021-12-24 the observed
        // Christmas; neither is a half day, nor is an ordinary session.
        for x in ["2026-07-03", "2021-12-24", "2026-07-02", "2026-12-23"] {
            assert!(!is_half_day(d(x)), "{x}");
        }
        let (open, close) = session_hours(d("2026-11-27")).expect("session");
        assert_eq!(open, at("2026-11-27T14:30:00Z"));
        assert_eq!(close, at("2026-11-27T18:00:00Z"));
        assert!(session_hours(d("2026-11-26")).is_none(), "Thanksgiving");
    }

    #[test]
    fn the_as_of_session_counts_for_its_time_left() {
        let fri = d("2026-01-30");
        // Wed 2026-01-28 before the open: Wed, Thu, Fri.
        assert!((trading_years_at(at("2026-01-28T13:00:00Z"), fri) - 3.0 / 252.0).abs() < 1e-15);
        // At the open exactly: still the whole session.
        assert!((trading_years_at(at("2026-01-28T14:30:00Z"), fri) - 3.0 / 252.0).abs() < 1e-15);
        // 15:00 New York: one hour of 6.5 left.
        let tau = trading_years_at(at("2026-01-28T20:00:00Z"), fri);
        assert!((tau - (1.0 / 6.5 + 2.0) / 252.0).abs() < 1e-15, "{tau}");
        // After the close: Thursday and Friday.
        assert!((trading_years_at(at("2026-01-28T21:30:00Z"), fri) - 2.0 / 252.0).abs() < 1e-15);
        // Saturday: the next week's sessions only.
        let next_fri = d("2026-02-06");
        assert!(
            (trading_years_at(at("2026-01-31T15:00:00Z"), next_fri) - 5.0 / 252.0).abs() < 1e-15
        );
        // On the expiry day itself, the time left of its session; nothing once it has passed.
        assert!(
            (trading_years_at(at("2026-01-30T20:00:00Z"), fri) - 1.0 / 6.5 / 252.0).abs() < 1e-15
        );
        assert_eq!(trading_years_at(at("2026-01-31T15:00:00Z"), fri), 0.0);
    }

    #[test]
    fn a_half_day_counts_its_own_hours() {
        // Fri 2026-11-27 closes at 13:00 New York (18:00 UTC): at 11:15 half of its 3.5 hours
        // are left; after 13:00 nothing is, though 16:00 has not come.
        let exp = d("2026-12-04");
        let mid = trading_years_at(at("2026-11-27T16:15:00Z"), exp);
        assert!((mid - 5.5 / 252.0).abs() < 1e-15, "{mid}");
        let late = trading_years_at(at("2026-11-27T19:00:00Z"), exp);
        assert!((late - 5.0 / 252.0).abs() < 1e-15, "{late}");
        // The holiday before it has no session: Thanksgiving counts nothing of itself.
        let thu = trading_years_at(at("2026-11-26T17:00:00Z"), exp);
        assert!((thu - 6.0 / 252.0).abs() < 1e-15, "{thu}");
        assert_eq!(session_share_left(at("2026-11-26T17:00:00Z")), 0.0);
    }
}
