//! The clock, look-ahead and overrides through the CLI on the simulated market (issue 13 items
//! 2, 3 and 6): `--as-of` at any time of day, the default as-of, weekend and out-of-session
//! flags; an analysis that depends only on what was known at its as-of (the same in a fresh
//! and a warm database); a report already out never analysed as upcoming in `analyze`, `scan`
//! and `batch`; overrides checked against the reaction session and the calendar.

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::process::Output;
use tempfile::TempDir;

/// A temporary directory with its own SQLite file, the environment cleared of ivcrush settings.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("ivcrush").expect("binary built");
        c.current_dir(self.dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("t.db").display()),
            )
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") {
                c.env_remove(k);
            }
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("runs")
    }

    /// `analyze TICKER --as-of AS_OF --format json EXTRA…`, expected to succeed.
    fn analyze(&self, ticker: &str, as_of: &str, extra: &[&str]) -> Value {
        let mut args = vec!["analyze", ticker, "--as-of", as_of, "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        json(&out)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    })
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("an RFC 3339 instant: {v}"))
}

/// The `outside_session` notes of a record.
fn session_notes(r: &Value) -> Vec<String> {
    r["data_quality"]
        .as_array()
        .expect("data_quality")
        .iter()
        .filter(|n| n["code"] == "outside_session")
        .map(|n| {
            assert_eq!(n["blocking"], false, "an outside-session note never blocks");
            n["detail"].as_str().expect("detail").to_string()
        })
        .collect()
}

fn warnings(r: &Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("text").to_string())
        .collect()
}

// ---- item 2: the clock ---------------------------------------------------------------------

#[test]
fn as_of_accepts_a_new_york_date_time_or_rfc_3339_and_rejects_anything_else() {
    let env = Env::new();
    let local = env.analyze("MRVL", "2026-12-03 15:00", &[]);
    assert_eq!(
        local["as_of"], "2026-12-03T20:00:00Z",
        "15:00 New York (EST)"
    );
    for same in [
        "2026-12-03T15:00:00-05:00",
        "2026-12-03T20:00:00Z",
        "2026-12-03T15:00",
    ] {
        assert_eq!(env.analyze("MRVL", same, &[]), local, "{same}");
    }
    // Summer time: 15:00 New York is 19:00 UTC.
    let summer = env.analyze("MRVL", "2026-06-01 15:00", &[]);
    assert_eq!(summer["as_of"], "2026-06-01T19:00:00Z");
    // A date alone is 15:30 New York on the simulated market.
    let date = env.analyze("MRVL", "2026-12-03", &[]);
    assert_eq!(date["as_of"], "2026-12-03T20:30:00Z");

    for bad in ["tomorrow", "2026-13-01", "2026-12-03 25:00"] {
        let out = env.run(&["analyze", "MRVL", "--as-of", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: usage error");
        assert!(
            stderr(&out).contains("YYYY-MM-DD HH:MM in New York time"),
            "{bad}: the accepted forms are named: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_time_of_day_decides_the_session_and_the_quotes() {
    let env = Env::new();
    // Thursday 2026-12-03 (EST).
    let wednesday = env.analyze("MRVL", "2026-12-02 15:00", &[]);
    let thursday = env.analyze("MRVL", "2026-12-03", &[]);
    let friday = env.analyze("MRVL", "2026-12-04", &[]);
    assert!(session_notes(&wednesday).is_empty());
    assert!(session_notes(&thursday).is_empty());

    // Before the open: the quotes are Wednesday's close, and the record says so.
    let before = env.analyze("MRVL", "2026-12-03 08:00", &[]);
    assert_eq!(before["as_of"], "2026-12-03T13:00:00Z");
    assert_eq!(
        before["spot"], wednesday["spot"],
        "before the open: the last close"
    );
    assert_ne!(before["spot"], thursday["spot"]);
    let notes = session_notes(&before);
    assert!(
        notes.len() == 1 && notes[0].contains("before the open"),
        "{notes:?}"
    );

    // 15:00 in the session: Thursday's quotes, no note.
    let at_three = env.analyze("MRVL", "2026-12-03 15:00", &[]);
    assert_eq!(at_three["as_of"], "2026-12-03T20:00:00Z");
    assert_eq!(at_three["spot"], thursday["spot"]);
    assert!(session_notes(&at_three).is_empty(), "{at_three}");

    // After the close: still Thursday's quotes, flagged.
    let after = env.analyze("MRVL", "2026-12-03 18:00", &[]);
    assert_eq!(after["as_of"], "2026-12-03T23:00:00Z");
    assert_eq!(after["spot"], thursday["spot"]);
    let notes = session_notes(&after);
    assert!(
        notes.len() == 1 && notes[0].contains("after the close"),
        "{notes:?}"
    );

    // Saturday noon: Friday's close, flagged as not a trading day.
    let saturday = env.analyze("MRVL", "2026-12-05 12:00", &[]);
    assert_eq!(saturday["as_of"], "2026-12-05T17:00:00Z");
    assert_eq!(saturday["spot"], friday["spot"]);
    let notes = session_notes(&saturday);
    assert!(
        notes.len() == 1 && notes[0].contains("not a trading day"),
        "{notes:?}"
    );

    // Historical moves never include a session still open (or not yet opened) at the as-of.
    for r in [&before, &at_three, &after, &saturday] {
        let as_of = instant(&r["as_of"]);
        let day = ivcrush_core::calendar::new_york_date(as_of);
        for m in r["historical_moves"].as_array().expect("moves") {
            let reaction: chrono::NaiveDate = m["reaction_date"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("reaction date");
            assert!(reaction < day, "{reaction} before {day}");
        }
    }

    // The scan table says the as-of in New York time.
    let out = env.run(&["scan", "--as-of", "2026-12-03 15:00"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with("as of 2026-12-03 15:00 EST (sim)"),
        "{first}"
    );
}

#[test]
fn weekend_and_holiday_dates_are_flagged() {
    let env = Env::new();
    for (date, flagged) in [
        ("2026-11-28", true),  // Saturday
        ("2026-11-26", true),  // Thanksgiving
        ("2026-12-02", false), // Wednesday
    ] {
        let r = env.analyze("QNTM", date, &[]);
        let notes = session_notes(&r);
        if flagged {
            assert!(
                notes.len() == 1 && notes[0].contains("not a trading day"),
                "{date}: {notes:?}"
            );
        } else {
            assert!(notes.is_empty(), "{date}: {notes:?}");
        }
    }
    // In the table too: the quality column says off-hours.
    let out = env.run(&["scan", "--as-of", "2026-11-28", "--tickers", "QNTM"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("off-hours"), "{}", stdout(&out));
}

#[test]
fn without_as_of_the_as_of_is_now_or_the_last_close() {
    use ivcrush_app::clock::now_or_last_close;
    let env = Env::new();
    let before = now_or_last_close(Utc::now());
    let out = env.run(&["analyze", "MRVL", "--format", "json"]);
    let after = now_or_last_close(Utc::now());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    let as_of = instant(&r["as_of"]);
    assert!(
        before <= as_of && as_of <= after,
        "{as_of}: between {before} and {after}"
    );
    // Shut market: exactly a close, and flagged; open market: now, not flagged.
    if before == after {
        assert_eq!(as_of, before);
    }
    let open = ivcrush_core::quality::in_session(as_of);
    assert_eq!(session_notes(&r).is_empty(), open, "{r}");
}

// ---- item 3: no look-ahead, no past events as upcoming -------------------------------------

#[test]
fn mrvl_same_result_in_a_fresh_and_a_warm_database() {
    let fresh = Env::new();
    let cold = fresh.analyze("MRVL", "2026-06-01", &[]);
    // Its history ends before the as-of; its report is after it.
    for m in cold["historical_moves"].as_array().expect("moves") {
        assert!(
            m["reaction_date"].as_str().expect("date") < "2026-06-01",
            "{m}"
        );
    }
    assert!(cold["earnings_date"].as_str().expect("date") >= "2026-06-01");

    // A database that later runs wrote to: the analysed report's own move, later reports,
    // wider coverage, stored calendars and analyses.
    let warm = Env::new();
    let later = warm.analyze("MRVL", "2026-09-01", &[]);
    assert_ne!(later["earnings_date"], cold["earnings_date"]);
    for args in [
        &[
            "scan",
            "--as-of",
            "2026-11-26",
            "--days",
            "95",
            "--format",
            "json",
        ][..],
        &["backfill", "MRVL", "--as-of", "2027-01-15"][..],
        &["calendar", "sync", "--as-of", "2026-05-01", "--days", "200"][..],
    ] {
        let out = warm.run(args);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let again = warm.analyze("MRVL", "2026-06-01", &[]);
    assert_eq!(
        again["vrp"]["ratio"], cold["vrp"]["ratio"],
        "VRP in a fresh and a warm database"
    );
    assert_eq!(again["historical"], cold["historical"]);
    assert_eq!(again, cold, "the whole record");
}

#[test]
fn ionq_already_reported_is_never_analysed_as_upcoming() {
    let env = Env::new();
    let said = "IONQ reported 2026-12-03 (BMO); next report 2027-03-05 (BMO)";
    // The evening before, the report is upcoming.
    let before = env.analyze("IONQ", "2026-12-02 18:00", &[]);
    assert_eq!(before["earnings_date"], "2026-12-03");
    // From its day on (before the open too) it is out: the next report is analysed, said so.
    for as_of in ["2026-12-03 08:00", "2026-12-03", "2026-12-04"] {
        let r = env.analyze("IONQ", as_of, &[]);
        assert_eq!(r["earnings_date"], "2027-03-05", "{as_of}");
        assert!(
            warnings(&r).iter().any(|w| w.starts_with(said)),
            "{as_of}: {:?}",
            warnings(&r)
        );
    }
    let out = env.run(&["analyze", "IONQ", "--as-of", "2026-12-03"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("IONQ  report 2027-03-05 BMO"), "{text}");
    assert!(text.contains(&format!("warning: {said}")), "{text}");

    // Asking for the report that is out is a usage error (exit 2) that says so.
    let out = env.run(&[
        "analyze",
        "IONQ",
        "--as-of",
        "2026-12-03",
        "--earnings-date",
        "2026-12-03",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("IONQ reported 2026-12-03 (BMO)") && err.contains("next report 2027-03-05"),
        "{err}"
    );

    // scan: not among the rows; asked for by name, a failed row saying why.
    let out = env.run(&["scan", "--as-of", "2026-12-03", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for r in json(&out).as_array().expect("rows") {
        let out_already = r["earnings_date"] == "2026-12-03" && r["timing"] == "BMO"
            || r["earnings_date"]
                .as_str()
                .is_some_and(|d| d < "2026-12-03");
        assert!(!out_already, "a report already out in the scan: {r}");
    }
    let out = env.run(&[
        "scan",
        "--as-of",
        "2026-12-03",
        "--tickers",
        "IONQ",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let rows = json(&out);
    assert_eq!(rows[0]["ticker"], "IONQ");
    assert_eq!(rows[0]["earnings_date"], "2026-12-03");
    assert!(
        rows[0]["error"].as_str().is_some_and(|e| e.contains(said)),
        "{rows}"
    );

    // batch: the same rule for a listed report date.
    let csv = env.dir.path().join("b.csv");
    std::fs::write(&csv, "ticker,earnings_date\nIONQ,2026-12-03\n").expect("csv");
    let out = env.run(&[
        "batch",
        csv.to_str().expect("path"),
        "--as-of",
        "2026-12-03",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let rows = json(&out);
    assert!(
        rows[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("IONQ reported 2026-12-03 (BMO)")),
        "{rows}"
    );
}

#[test]
fn the_output_never_says_inverted_and_not_inverted_at_once() {
    let env = Env::new();
    // A day whose scan has a term structure barely inverted by vol with a negative event
    // variance in trading-day time (SOLR as this was written).
    let out = env.run(&[
        "scan",
        "--as-of",
        "2026-12-02",
        "--days",
        "95",
        "--format",
        "json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "{}",
        stderr(&out)
    );
    let mut inverted = 0;
    for r in json(&out).as_array().expect("rows") {
        if r.get("term_structure").is_none() {
            continue;
        }
        if r["term_structure"]["inverted"] == true {
            inverted += 1;
            for w in warnings(r) {
                assert!(!w.contains("not inverted"), "{}: {w}", r["ticker"]);
            }
            // The detailed view of the same ticker says "inverted" once.
            if inverted <= 3 {
                let t = r["ticker"].as_str().expect("ticker");
                let o = env.run(&["analyze", t, "--as-of", "2026-12-02"]);
                let text = stdout(&o);
                assert!(text.contains("(inverted:"), "{text}");
                assert!(!text.contains("not inverted"), "{text}");
            }
        }
    }
    assert!(inverted > 0, "some term structures are inverted");
}

// ---- item 6: overrides are checked ---------------------------------------------------------

#[test]
fn an_expiration_before_the_reaction_session_is_an_error() {
    let env = Env::new();
    // MRVL reports 2026-11-27 after the close: the market reacts on Monday 2026-11-30. An
    // expiration that cannot be analysed is a usage error (exit 2).
    let out = env.run(&[
        "analyze",
        "MRVL",
        "--as-of",
        "2026-11-26",
        "--expiration",
        "2026-11-27",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("expiration 2026-11-27 ends before the market reacts")
            && err.contains("reaction session 2026-11-30")
            && err.contains("the first expiry after it is 2026-12-04"),
        "{err}"
    );
    // A later expiry is accepted.
    let r = env.analyze("MRVL", "2026-11-26", &["--expiration", "2026-12-11"]);
    assert_eq!(r["expiration"], "2026-12-11");
    // In a batch, the row fails with the same reason.
    let csv = env.dir.path().join("b.csv");
    std::fs::write(
        &csv,
        "ticker,earnings_date,expiration\nMRVL,2026-11-27,2026-11-27\n",
    )
    .expect("csv");
    let out = env.run(&[
        "batch",
        csv.to_str().expect("path"),
        "--as-of",
        "2026-11-26",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        json(&out)[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("ends before the market reacts")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_earnings_date_the_calendar_contradicts_is_a_warning_naming_the_calendar_date() {
    let env = Env::new();
    // The calendar's date: no warning.
    let r = env.analyze("MRVL", "2026-11-26", &["--earnings-date", "2026-11-27"]);
    assert!(
        !warnings(&r).iter().any(|w| w.contains("calendar")),
        "{:?}",
        warnings(&r)
    );
    assert_eq!(r["timing"], "AMC", "the calendar's timing");

    // Another date, with the calendar's report inside the analysed expiry.
    let r = env.analyze("MRVL", "2026-11-26", &["--earnings-date", "2026-12-01"]);
    assert_eq!(r["earnings_date"], "2026-12-01");
    assert_eq!(r["expiration"], "2026-12-04");
    let w = warnings(&r);
    assert!(
        w.iter().any(
            |w| w.contains("earnings date 2026-12-01 contradicts the calendar")
                && w.contains("2026-11-27 (AMC)")
                && w.contains("inside the analysed expiry 2026-12-04")
        ),
        "{w:?}"
    );

    // The calendar's report after the analysed expiry (CRUX reports 2026-12-07).
    let r = env.analyze("CRUX", "2026-11-26", &["--earnings-date", "2026-11-30"]);
    assert_eq!(r["expiration"], "2026-12-04");
    let w = warnings(&r);
    assert!(
        w.iter().any(|w| w.contains("2026-12-07 (BMO)")
            && w.contains("after the analysed expiry 2026-12-04")),
        "{w:?}"
    );
    // The table view prints it.
    let out = env.run(&[
        "analyze",
        "CRUX",
        "--as-of",
        "2026-11-26",
        "--earnings-date",
        "2026-11-30",
    ]);
    assert!(
        stdout(&out).contains("warning: earnings date 2026-11-30 contradicts the calendar"),
        "{}",
        stdout(&out)
    );
}
