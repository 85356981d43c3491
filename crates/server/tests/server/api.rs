//! Every endpoint's status and shape.

use ivcrush_app::{AnalysisRecord, Row};
use ivcrush_resilience::{BreakerConfig, CircuitBreaker, Criticality};

use crate::support::{error_body, start};

#[tokio::test]
async fn liveness_answers_up_without_a_key() {
    let s = start().await;
    let r = s.get_anon("/health/live").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["status"], "UP");
    s.stop().await;
}

#[tokio::test]
async fn readiness_reports_the_dependency_graph_and_answers_200_when_nothing_critical_is_down() {
    let s = start().await;
    let r = s.get_anon("/health/ready").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_ne!(v["status"], "DOWN", "{v}");
    let deps: Vec<&str> = v["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(
        deps.contains(&"database") && deps.contains(&"market_data"),
        "{deps:?}"
    );
    let caps: Vec<&str> = v["capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(caps.contains(&"api") && caps.contains(&"scan"), "{caps:?}");
    s.stop().await;
}

#[tokio::test]
async fn readiness_answers_503_with_the_graph_when_a_critical_dependency_is_down() {
    let s = start().await;
    s.state
        .add_health_check("broker_link", Criticality::Critical, || async {
            Err("connection refused".to_string())
        });
    let r = s.get_anon("/health/ready").await;
    assert_eq!(r.status(), 503);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["status"], "DOWN");
    let dep = v["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .find(|d| d["name"] == "broker_link")
        .expect("the injected dependency is listed")
        .clone();
    assert_eq!(dep["status"], "DOWN");
    assert_eq!(dep["critical"], true);
    // Liveness is unaffected.
    assert_eq!(s.get_anon("/health/live").await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn a_scan_runs_on_demand_once_then_is_served_from_the_stored_result() {
    let s = start().await;
    let first = s.json("/api/v1/scan").await;
    assert_eq!(first["trigger"], "on_demand");
    assert_eq!(first["from"], "2026-02-02");
    let rows: Vec<Row> = serde_json::from_value(first["rows"].clone()).expect("CLI rows");
    assert!(
        rows.iter().any(|r| r.analysis().is_some()),
        "some rows analysed"
    );
    let again = s.json("/api/v1/scan").await;
    assert_eq!(
        again["run_id"], first["run_id"],
        "served from the stored scan"
    );
    // The rows were stored under the run id.
    let stored = s
        .state
        .app()
        .scanner()
        .stored_run(first["run_id"].as_str().expect("run id"))
        .await
        .expect("store");
    assert_eq!(stored.len(), rows.len());
    // Filters apply to the stored result.
    let top = s.json("/api/v1/scan?limit=1&min_score=0").await;
    let analysed = top["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r.get("error").is_none())
        .count();
    assert_eq!(analysed, 1);
    assert_eq!(top["run_id"], first["run_id"]);
    s.stop().await;
}

#[tokio::test]
async fn a_malformed_scan_query_is_400_and_a_window_ending_before_it_starts_422() {
    let s = start().await;
    let v = error_body(
        s.get("/api/v1/scan?from=2026-02-10&to=2026-02-01").await,
        422,
    )
    .await;
    assert_eq!(v["error"], "unprocessable");
    error_body(s.get("/api/v1/scan?from=not-a-date").await, 400).await;
    error_body(s.get("/api/v1/scan?limit=0").await, 400).await;
    error_body(s.get("/api/v1/scan?min_score=nan").await, 400).await;
    s.stop().await;
}

async fn first_ticker(s: &crate::support::TestServer) -> String {
    let scan = s.json("/api/v1/scan").await;
    scan["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r.get("error").is_none())
        .and_then(|r| r["ticker"].as_str())
        .expect("an analysed row")
        .to_string()
}

#[tokio::test]
async fn analyze_returns_the_cli_record_with_the_last_historical_moves() {
    let s = start().await;
    let t = first_ticker(&s).await;
    let v = s
        .json(&format!("/api/v1/analyze/{}", t.to_lowercase()))
        .await;
    let rec: AnalysisRecord = serde_json::from_value(v.clone()).expect("the CLI record");
    assert_eq!(rec.analysis.ticker, t);
    let moves = rec.historical_moves.expect("moves attached");
    assert!(!moves.is_empty() && moves.len() <= 12, "{}", moves.len());
    for field in [
        "implied_move",
        "historical",
        "vrp",
        "skew",
        "term_structure",
        "liquidity",
    ] {
        assert!(v.get(field).is_some(), "{field}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_repeated_analysis_is_served_from_the_stored_one() {
    let s = start().await;
    let t = first_ticker(&s).await;
    let path = format!("/api/v1/analyze/{t}");
    let a = s.get(&path).await.bytes().await.expect("body");
    let b = s.get(&path).await.bytes().await.expect("body");
    assert_eq!(a, b);
    // Computed (and stored) once; the scan stored one row too.
    let h = s.json(&format!("/api/v1/history/{t}")).await;
    assert_eq!(h["analyses"].as_array().expect("analyses").len(), 2, "{h}");
    assert!(!h["historical_moves"].as_array().expect("moves").is_empty());
    s.stop().await;
}

#[tokio::test]
async fn analyze_takes_the_clis_overrides_and_an_as_of() {
    let s = start().await;
    let t = first_ticker(&s).await;
    let now = s.json(&format!("/api/v1/analyze/{t}")).await;
    // The server runs as of 2026-02-02; the day before is the simulated market of that day.
    let before = s
        .json(&format!("/api/v1/analyze/{t}?as_of=2026-01-30"))
        .await;
    let day = |v: &serde_json::Value| v["as_of"].as_str().expect("as_of")[..10].to_string();
    assert_eq!(day(&now), "2026-02-02", "{now}");
    assert_eq!(day(&before), "2026-01-30", "{before}");
    // The next call without an as-of is the server's again (nothing cached under the other).
    let again = s.json(&format!("/api/v1/analyze/{t}")).await;
    assert_eq!(day(&again), "2026-02-02");
    // An explicit expiration is honoured.
    let exp = now["expiration"].as_str().expect("expiration");
    let pinned = s
        .json(&format!("/api/v1/analyze/{t}?expiration={exp}"))
        .await;
    assert_eq!(pinned["expiration"], exp);
    for bad in [
        "as_of=yesterday",
        "expiration=2026-13-01",
        "asof=2026-01-30",
    ] {
        let v = error_body(s.get(&format!("/api/v1/analyze/{t}?{bad}")).await, 400).await;
        assert_eq!(v["error"], "bad_request", "{bad}: {v}");
    }
    s.stop().await;
}

/// An as-of the replayed market has no data at (before the simulation starts), or an as-of,
/// report date or expiration far ahead (the market would be built up to it) is 422, never
/// 503 or a long wait.
#[tokio::test]
async fn an_analysis_at_dates_outside_the_replay_is_422() {
    let s = start().await;
    let t = first_ticker(&s).await;
    for query in [
        "as_of=1067-11-11",
        "as_of=1999-12-31T23:00:00Z",
        "as_of=2027-03-01",
        "as_of=9999-12-31",
        "earnings_date=6643-05-25",
        "expiration=2027-03-01",
        "as_of=2026-01-05&earnings_date=2027-01-10",
    ] {
        let v = error_body(s.get(&format!("/api/v1/analyze/{t}?{query}")).await, 422).await;
        assert_eq!(v["error"], "unprocessable", "{query}: {v}");
    }
    s.stop().await;
}

#[tokio::test]
async fn analyzing_an_unknown_ticker_is_404() {
    let s = start().await;
    let v = error_body(s.get("/api/v1/analyze/ZZZZQ").await, 404).await;
    assert_eq!(v["error"], "not_found");
    s.stop().await;
}

#[tokio::test]
async fn history_of_a_ticker_never_seen_is_404_and_a_bad_limit_is_400() {
    let s = start().await;
    error_body(s.get("/api/v1/history/NOPE").await, 404).await;
    error_body(s.get("/api/v1/history/NOPE?limit=0").await, 400).await;
    s.stop().await;
}

#[tokio::test]
async fn the_calendar_lists_the_events_of_the_window() {
    let s = start().await;
    let v = s
        .json("/api/v1/calendar?from=2026-02-02&to=2026-02-13")
        .await;
    assert_eq!(v["from"], "2026-02-02");
    assert_eq!(v["to"], "2026-02-13");
    let events = v["events"].as_array().expect("events");
    assert!(!events.is_empty());
    for e in events {
        let d = e["event"]["date"].as_str().expect("date");
        assert!(("2026-02-02"..="2026-02-13").contains(&d), "{d}");
    }
    // Each date is valid on its own: the window across them is what the server refuses.
    for window in [
        "from=2026-02-02&to=2028-02-02",
        "from=2026-02-02&to=2026-02-01",
    ] {
        let v = error_body(s.get(&format!("/api/v1/calendar?{window}")).await, 422).await;
        assert_eq!(v["error"], "unprocessable", "{window}");
    }
    error_body(s.get("/api/v1/calendar?from=2026-02-31").await, 400).await;
    s.stop().await;
}

#[tokio::test]
async fn forcing_a_breaker_open_then_resetting_it_through_the_api_changes_its_state() {
    let s = start().await;
    let b = s.state.with_metrics(|| {
        CircuitBreaker::new("vendor_x", BreakerConfig::default()).expect("breaker")
    });
    s.state.app().breakers().register(b.clone());
    let state_of = |v: &serde_json::Value| {
        v["breakers"]
            .as_array()
            .expect("breakers")
            .iter()
            .find(|b| b["name"] == "vendor_x")
            .map(|b| b["state"].clone())
            .expect("listed")
    };
    assert_eq!(state_of(&s.json("/api/v1/breakers").await), "CLOSED");

    let r = s.post("/api/v1/breakers/vendor_x/force-open").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["state"],
        "FORCED_OPEN"
    );
    assert_eq!(state_of(&s.json("/api/v1/breakers").await), "FORCED_OPEN");
    assert!(b.try_acquire().is_err(), "the real breaker rejects calls");

    let r = s.post("/api/v1/breakers/vendor_x/reset").await;
    assert_eq!(r.status(), 200);
    assert_eq!(state_of(&s.json("/api/v1/breakers").await), "CLOSED");

    error_body(s.post("/api/v1/breakers/nope/reset").await, 404).await;
    error_body(s.post("/api/v1/breakers/bad%20name/reset").await, 400).await;
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = start().await;
    let v = s.json("/api/v1/openapi.json").await;
    assert!(v["openapi"].as_str().expect("version").starts_with("3."));
    let paths = v["paths"].as_object().expect("paths");
    for p in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/api/v1/scan",
        "/api/v1/analyze/{ticker}",
        "/api/v1/calendar",
        "/api/v1/history/{ticker}",
        "/api/v1/breakers",
        "/api/v1/breakers/{name}/reset",
        "/api/v1/breakers/{name}/force-open",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert!(v["components"]["securitySchemes"]["api_key"].is_object());
    s.stop().await;
}

/// The `schema` of the parameter `name` of `op`.
fn param_schema<'a>(op: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

#[tokio::test]
async fn the_openapi_document_gives_every_status_its_error_body_and_every_rule_its_schema() {
    let s = start().await;
    // The document, like every /api route, answers 401 without a key, as it says.
    error_body(s.get_anon("/api/v1/openapi.json").await, 401).await;
    let v = s.json("/api/v1/openapi.json").await;
    let rate_limited = &v["components"]["responses"]["RateLimited"];
    assert!(
        rate_limited["headers"]["Retry-After"].is_object(),
        "{rate_limited}"
    );
    for (path, item) in v["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let responses = op["responses"].as_object().expect("responses");
            // The session routes answer 204 (the cookie is the answer).
            let ok = if path == "/login" || path == "/logout" {
                "204"
            } else {
                "200"
            };
            let mut needed = vec![ok, "413", "503"];
            if path.starts_with("/api/") || path == "/login" {
                needed.extend(["401", "429"]);
            }
            for status in needed {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
            for (status, r) in responses {
                if status.starts_with('4') {
                    let body = r.to_string();
                    assert!(
                        body.contains("ErrorBody") || r["$ref"].is_string(),
                        "{method} {path} {status}: {r}"
                    );
                }
            }
        }
    }
    let paths = &v["paths"];
    let scan = &paths["/api/v1/scan"]["get"];
    assert_eq!(param_schema(scan, "limit")["minimum"], 1);
    assert_eq!(param_schema(scan, "limit")["maximum"], 1000);
    assert_eq!(param_schema(scan, "min_score")["maximum"], 100.0);
    assert_eq!(param_schema(scan, "from")["format"], "date");
    assert_eq!(
        param_schema(scan, "rank")["enum"],
        serde_json::json!(["tradeable", "score"])
    );
    assert!(scan["responses"]["422"].is_object());
    for op in ["reset", "force-open"] {
        let post = &paths[&format!("/api/v1/breakers/{{name}}/{op}")]["post"];
        assert!(
            post["responses"]["403"].is_object(),
            "{op}: 403 for a read-only key"
        );
    }
    let history = &paths["/api/v1/history/{ticker}"]["get"];
    assert_eq!(param_schema(history, "limit")["maximum"], 500);
    assert!(param_schema(history, "ticker")["pattern"].is_string());
    let backtest = &paths["/api/v1/backtest"]["get"];
    assert_eq!(
        param_schema(backtest, "strategy")["enum"],
        serde_json::json!(["short_straddle", "short_strangle", "iron_condor", "best"])
    );
    assert_eq!(
        param_schema(backtest, "exit")["enum"],
        serde_json::json!(["reaction", "expiry"])
    );
    s.stop().await;
}

/// The documented breaker names are the ones a process on the vendors registers (opening the
/// app builds the clients; nothing is fetched).
#[tokio::test]
async fn the_documented_breaker_names_are_those_of_the_vendor_pipelines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = ivcrush_app::AppConfig {
        provider: ivcrush_app::ProviderKind::Tradier,
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..ivcrush_app::AppConfig::default()
    };
    cfg.tradier.api_key = "dummy-tradier".to_string().into();
    cfg.alphavantage.api_key = "dummy-alphavantage".to_string().into();
    let app = ivcrush_app::App::open(cfg).await.expect("app opens");
    let mut registered: Vec<String> = app
        .breakers()
        .list()
        .into_iter()
        .map(|b| b.name.to_string())
        .collect();
    registered.sort();
    let s = start().await;
    let v = s.json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/breakers/{name}/reset",
        "/api/v1/breakers/{name}/force-open",
    ] {
        let mut documented: Vec<String> =
            serde_json::from_value(param_schema(&v["paths"][path]["post"], "name")["enum"].clone())
                .expect("an enum of names");
        documented.sort();
        assert_eq!(documented, registered, "{path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_backtest_with_a_bad_strategy_is_400_and_with_a_reversed_or_long_window_422() {
    let s = start().await;
    error_body(s.get("/api/v1/backtest?strategy=yolo").await, 400).await;
    error_body(s.get("/api/v1/backtest?exit=never").await, 400).await;
    for window in [
        "from=2026-01-20&to=2026-01-10",
        "from=2024-01-01&to=2026-01-10",
    ] {
        let v = error_body(s.get(&format!("/api/v1/backtest?{window}")).await, 422).await;
        assert_eq!(v["error"], "unprocessable", "{window}");
    }
    s.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_shape() {
    let s = start().await;
    let v = error_body(s.get_anon("/nope").await, 404).await;
    assert_eq!(v["error"], "not_found");
    error_body(s.get_anon("/assets/nope.js").await, 404).await;
    s.stop().await;
}

#[tokio::test]
async fn the_dashboard_and_its_assets_are_served_without_a_key() {
    let s = start().await;
    let r = s.get_anon("/").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = r.text().await.expect("html");
    assert!(
        html.contains("/assets/app.js") && !html.contains("http://") && !html.contains("https://")
    );
    for a in ["/assets/app.js", "/assets/app.css"] {
        assert_eq!(s.get_anon(a).await.status(), 200, "{a}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_scheduled_scan_is_what_get_scan_serves_afterwards() {
    let s = start().await;
    let snap = s
        .state
        .run_scan("scheduled", "sched-001")
        .await
        .expect("scan runs");
    assert!(!snap.report.rows.is_empty());
    let v = s.json("/api/v1/scan").await;
    assert_eq!(v["run_id"], "sched-001");
    assert_eq!(v["trigger"], "scheduled");
    // A different window is scanned on demand and leaves the scheduled one in place.
    let other = s.json("/api/v1/scan?from=2026-02-03&to=2026-02-05").await;
    assert_eq!(other["trigger"], "on_demand");
    assert_eq!(other["from"], "2026-02-03");
    assert_eq!(s.json("/api/v1/scan").await["run_id"], "sched-001");
    // refresh=true runs a new default scan that becomes the latest.
    let fresh = s.json("/api/v1/scan?refresh=true").await;
    assert_ne!(fresh["run_id"], "sched-001");
    assert_eq!(s.json("/api/v1/scan").await["run_id"], fresh["run_id"]);
    s.stop().await;
}

#[tokio::test]
async fn alerts_are_listed_newest_first_and_the_query_is_checked() {
    let s = start().await;
    let alert = |key: &str| ivcrush_app::store::NewAlert {
        key: key.to_owned(),
        kind: "calendar_moved".to_owned(),
        ticker: Some("XCEL".to_owned()),
        message: format!("{key}: XCEL report moved"),
        detail: r#"{"from":"2026-02-05","to":"2026-02-12"}"#.to_owned(),
        created_at: chrono::Utc::now(),
    };
    s.state
        .app()
        .alerts()
        .record(&[alert("first"), alert("second"), alert("first")])
        .await
        .expect("recorded");
    let body = s.json("/api/v1/alerts?days=1&limit=10").await;
    let alerts = body["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 2, "the same key once: {body}");
    assert_eq!(alerts[0]["key"], "second", "newest first");
    assert_eq!(alerts[1]["kind"], "calendar_moved");
    assert_eq!(alerts[1]["delivered"], 0);
    for bad in ["days=0", "limit=1001", "days=x", "since=1"] {
        let r = s.get(&format!("/api/v1/alerts?{bad}")).await;
        error_body(r, 400).await;
    }
    error_body(s.get_anon("/api/v1/alerts").await, 401).await;
    s.stop().await;
}
