//! A report already out is never served as upcoming by the API, and the scan's ranking is
//! the CLI's (issue 13 items 3 and 7).

use chrono::{DateTime, Utc};
use ivcrush_app::{App, AppConfig, AsOf, ProviderKind, RankBy, Row};

use crate::support::{TestServer, start_app};

/// A server over the simulated market as of `as_of` (a date or a New York date-time).
async fn server_as_of(as_of: &str) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = App::open(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(as_of.parse::<AsOf>().expect("as-of")),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    })
    .await
    .expect("app opens");
    start_app(app, dir, |_| {}).await
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn reported_at(r: &serde_json::Value, day: &str) -> bool {
    let date = r["earnings_date"].as_str().unwrap_or_default();
    date < day || (date == day && r["timing"] == "BMO")
}

#[tokio::test]
async fn the_api_never_serves_a_report_already_out_as_upcoming() {
    let s = server_as_of("2026-12-03").await;
    let v = s.json("/api/v1/analyze/IONQ").await;
    assert_eq!(v["earnings_date"], "2027-03-05", "the next report");
    assert!(
        v["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w
                .as_str()
                .is_some_and(|w| w
                    .starts_with("IONQ reported 2026-12-03 (BMO); next report 2027-03-05 (BMO)"))),
        "{}",
        v["warnings"]
    );
    let scan = s.json("/api/v1/scan").await;
    for r in scan["rows"].as_array().expect("rows") {
        if r["score"].is_number() {
            assert!(!reported_at(r, "2026-12-03"), "{}", r["ticker"]);
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn a_stored_scan_drops_the_reports_that_came_out_since() {
    // The evening before IONQ's BMO report: it is in the scan.
    let s = server_as_of("2026-12-02 18:00").await;
    let scan = s.json("/api/v1/scan").await;
    let has_ionq = |rows: &[Row]| {
        rows.iter()
            .any(|r| r.analysis().is_some_and(|a| a.ticker == "IONQ"))
    };
    let rows: Vec<Row> = serde_json::from_value(scan["rows"].clone()).expect("rows");
    assert!(has_ionq(&rows), "IONQ reports tomorrow morning");
    // Served the next morning (before the open), the stored scan no longer lists it.
    let snap = s.state.latest_scan().expect("a stored scan");
    let later = snap.filtered(None, None, RankBy::Tradeable, at("2026-12-03T13:00:00Z"));
    assert!(!has_ionq(&later));
    assert_eq!(
        later.len(),
        snap.report.rows.len() - 1,
        "only the report that came out is dropped"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_scan_is_ranked_tradeable_first_unless_rank_score_is_asked() {
    let s = server_as_of("2026-11-26").await;
    let scores = |v: &serde_json::Value| -> Vec<(bool, f64)> {
        v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["score"].is_number())
            .map(|r| {
                (
                    r["tradeable"].as_bool().expect("tradeable"),
                    r["score"].as_f64().expect("score"),
                )
            })
            .collect()
    };
    let default = s.json("/api/v1/scan").await;
    assert_eq!(default["rank"], "tradeable");
    let rows = scores(&default);
    assert!(!rows.is_empty());
    for w in rows.windows(2) {
        assert!(w[0].0 >= w[1].0, "tradeable first: {rows:?}");
        if w[0].0 == w[1].0 {
            assert!(w[0].1 >= w[1].1, "then by score: {rows:?}");
        }
    }
    let by_score = s.json("/api/v1/scan?rank=score").await;
    assert_eq!(by_score["rank"], "score");
    let rows = scores(&by_score);
    for w in rows.windows(2) {
        assert!(w[0].1 >= w[1].1, "by score: {rows:?}");
    }
    assert_eq!(s.get("/api/v1/scan?rank=bogus").await.status(), 400);
    s.stop().await;
}
