//! Authentication, limits, validation, CORS and secrets.

use crate::support::{ADMIN_KEY, KEY, error_body, logs, start, start_with};

#[tokio::test]
async fn api_requests_without_a_key_are_401() {
    let s = start().await;
    for path in [
        "/api/v1/scan",
        "/api/v1/breakers",
        "/api/v1/analyze/AAPL",
        "/api/v1/openapi.json",
    ] {
        let v = error_body(s.get_anon(path).await, 401).await;
        assert_eq!(v["error"], "unauthorized", "{path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_key_is_401_and_no_key_ever_appears_in_the_body() {
    let s = start().await;
    let wrong = "wrong-key-abcdefghijklmnop";
    let r = s
        .client
        .get(s.url("/api/v1/scan"))
        .header("x-api-key", wrong)
        .send()
        .await
        .expect("request");
    let text = {
        assert_eq!(r.status(), 401);
        r.text().await.expect("body")
    };
    assert!(!text.contains(wrong) && !text.contains(KEY), "{text}");
    // A key that is a prefix of the real one is wrong too.
    let r = s
        .client
        .get(s.url("/api/v1/scan"))
        .header("x-api-key", &KEY[..KEY.len() - 1])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn with_no_key_configured_the_api_is_closed() {
    let s = start_with(|c| c.api_keys.clear()).await;
    error_body(s.get("/api/v1/scan").await, 401).await;
    error_body(s.get_anon("/api/v1/breakers").await, 401).await;
    assert_eq!(s.get_anon("/health/live").await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn path_traversal_attempts_are_400_or_404_and_never_read_a_file() {
    let s = start().await;
    for path in [
        "/api/v1/analyze/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/analyze/..%2F..%2Fetc",
        "/api/v1/analyze/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/v1/history/..%5C..%5Cwindows",
        "/api/v1/analyze/../../etc/passwd",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/../../Cargo.toml",
        "/../../etc/passwd",
    ] {
        let r = s.get(path).await;
        let status = r.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
        let body = r.text().await.expect("body");
        assert!(
            !body.contains("root:") && !body.contains("[package]"),
            "{path}: {body}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let s = start_with(|c| c.body_limit_bytes = 1024).await;
    let r = s
        .client
        .post(s.url("/api/v1/breakers/any/reset"))
        .header("x-api-key", KEY)
        .body(vec![b'x'; 8 * 1024])
        .send()
        .await
        .expect("request");
    let v = error_body(r, 413).await;
    assert_eq!(v["error"], "payload_too_large");
    s.stop().await;
}

#[tokio::test]
async fn a_client_over_its_rate_limit_gets_429_with_retry_after() {
    let s = start_with(|c| {
        c.rate_limit_per_minute = 3;
        c.rate_limit_burst = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(s.get("/api/v1/breakers").await.status(), 200);
    }
    let r = s.get("/api/v1/breakers").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    let v = error_body(r, 429).await;
    assert_eq!(v["error"], "rate_limited");
    // Health is not rate limited.
    assert_eq!(s.get_anon("/health/live").await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_configured() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/health/live"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    s.stop().await;

    let s = start_with(|c| c.cors_origins = vec!["https://ops.example".into()]).await;
    let r = s
        .client
        .get(s.url("/health/live"))
        .header("origin", "https://ops.example")
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://ops.example"
    );
    let r = s
        .client
        .get(s.url("/health/live"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test]
async fn log_lines_carry_the_request_id_and_never_the_api_key() {
    let s = start().await;
    let id = "trace-me-7f3a";
    let r = s
        .client
        .get(s.url("/api/v1/breakers?key=also-secret-in-query"))
        .header("x-api-key", KEY)
        .header("authorization", "Bearer top-secret-token")
        .header("x-request-id", id)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    s.stop().await;
    let logs = logs();
    let ours: Vec<&str> = logs.lines().filter(|l| l.contains(id)).collect();
    assert!(!ours.is_empty(), "the request logged at least one line");
    assert!(ours.iter().all(|l| l.contains("request_id=trace-me-7f3a")));
    for secret in [KEY, "top-secret-token", "also-secret-in-query"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test]
async fn probes_stay_out_of_the_access_log_and_each_request_logs_one_line() {
    let s = start().await;
    let get = |path: &'static str, id: &'static str| {
        s.client
            .get(s.url(path))
            .header("x-api-key", KEY)
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(
        get("/health/live", "probe-quiet-1")
            .await
            .expect("probe")
            .status(),
        200
    );
    assert_eq!(
        get("/metrics", "scrape-quiet-1")
            .await
            .expect("scrape")
            .status(),
        200
    );
    assert_eq!(
        get("/api/v1/history/NOPE", "one-line-404")
            .await
            .expect("404")
            .status(),
        404
    );
    s.stop().await;
    let logs = logs();
    for quiet in ["probe-quiet-1", "scrape-quiet-1"] {
        assert!(!logs.contains(quiet), "{quiet} logged:\n{logs}");
    }
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("one-line-404"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("status=404"), "{}", lines[0]);
}

#[tokio::test]
async fn a_read_only_key_reads_but_only_an_admin_key_operates_breakers() {
    let s = start().await;
    let breaker = s.state.with_metrics(|| {
        ivcrush_resilience::CircuitBreaker::new(
            "vendor_r",
            ivcrush_resilience::BreakerConfig::default(),
        )
        .expect("breaker")
    });
    s.state.app().breakers().register(breaker);
    let read_only = s
        .client
        .post(s.url("/api/v1/breakers/vendor_r/force-open"))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("request");
    let v = error_body(read_only, 403).await;
    assert_eq!(v["error"], "forbidden");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("admin key")
    );
    assert_eq!(
        s.json("/api/v1/breakers").await["breakers"][0]["state"],
        "CLOSED"
    );
    // The admin key operates, and reads like any key.
    assert_eq!(
        s.post("/api/v1/breakers/vendor_r/force-open")
            .await
            .status(),
        200
    );
    let admin_read = s
        .client
        .get(s.url("/api/v1/breakers"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(admin_read.status(), 200);
    s.stop().await;
}

/// `POST /login` with `key` in a form; the `Set-Cookie` value.
async fn login(s: &crate::support::TestServer, key: &str) -> reqwest::Response {
    s.client
        .post(s.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={key}"))
        .send()
        .await
        .expect("request")
}

fn session_of(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a Set-Cookie")
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    set.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_dashboard_logs_in_with_a_form_and_a_session_cookie_never_a_key_in_a_url() {
    let s = start().await;
    let breaker = s.state.with_metrics(|| {
        ivcrush_resilience::CircuitBreaker::new(
            "vendor_c",
            ivcrush_resilience::BreakerConfig::default(),
        )
        .expect("breaker")
    });
    s.state.app().breakers().register(breaker);
    let r = login(&s, KEY).await;
    assert_eq!(r.status(), 204);
    let session = session_of(&r);
    assert!(session.starts_with("ivcrush_session=v1."), "{session}");
    assert!(!session.contains(KEY), "the cookie is a MAC, not the key");
    let with = |cookie: String, method: reqwest::Method, path: &str| {
        s.client
            .request(method, s.url(path))
            .header("cookie", cookie)
            .send()
    };
    // The cookie stands for the key on /api/*, with the key's role.
    let scan = with(session.clone(), reqwest::Method::GET, "/api/v1/breakers")
        .await
        .expect("request");
    assert_eq!(scan.status(), 200);
    let op = with(
        session.clone(),
        reqwest::Method::POST,
        "/api/v1/breakers/vendor_c/force-open",
    )
    .await
    .expect("request");
    assert_eq!(
        op.status(),
        403,
        "a read-only key's session may not operate"
    );
    let admin = session_of(&login(&s, ADMIN_KEY).await);
    let op = with(
        admin,
        reqwest::Method::POST,
        "/api/v1/breakers/vendor_c/force-open",
    )
    .await
    .expect("request");
    assert_eq!(op.status(), 200);
    // A forged or altered cookie is nobody.
    let forged = format!(
        "{}0",
        session.trim_end_matches(|c: char| c.is_ascii_hexdigit())
    );
    for cookie in [forged, "ivcrush_session=v1.99999999999.00".to_owned()] {
        let r = with(cookie.clone(), reqwest::Method::GET, "/api/v1/breakers")
            .await
            .expect("request");
        assert_eq!(r.status(), 401, "{cookie}");
    }
    // An unknown key logs nobody in; a form without a key is malformed.
    let wrong = login(&s, "not-a-key-of-this-server").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let empty = s
        .client
        .post(s.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nothing=here")
        .send()
        .await
        .expect("request");
    assert_eq!(empty.status(), 400);
    // Logging out clears the cookie.
    let out = s
        .client
        .post(s.url("/logout"))
        .send()
        .await
        .expect("request");
    assert_eq!(out.status(), 204);
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    s.stop().await;
}
