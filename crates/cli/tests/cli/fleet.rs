//! Several `ivcrush` processes sharing one vendor key through Redis (`[fleet]`), against a
//! local mock Tradier that counts its fixed window as Tradier does. Needs `REDIS_URL`
//! (skipped with a message without it; CI sets it).

use ivcrush_mockvendor::{MockConfig, MockVendor};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Running, ivcrush};

pub(crate) fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: REDIS_URL is not set (CI sets it)");
            None
        }
    }
}

/// A namespace no other run shares.
pub(crate) fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("test-{test}-{}-{nanos}", std::process::id())
}

/// Writes `dir/ivcrush.toml`: Tradier and Alpha Vantage at `base`, the fleet at `redis`.
/// Tradier keeps its default quota (120 per minute, fixed window); Alpha Vantage is not under
/// test here (a premium plan: no cap).
pub(crate) fn fleet_config(dir: &Path, base: &str, redis: &str, namespace: &str, extra: &str) {
    std::fs::write(
        dir.join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n\
             [tradier]\nbase_url = \"{base}\"\n\
             [alphavantage]\nbase_url = \"{base}\"\n\
             [alphavantage.resilience]\nrate_limits = []\n\
             [fleet]\nredis = \"{redis}\"\nnamespace = \"{namespace}\"\ninstances = 2\n\
             {extra}"
        ),
    )
    .expect("config");
}

/// `ivcrush` on the live provider with the mock's key, in `dir`.
pub(crate) fn live(dir: &Path) -> Command {
    let mut cmd = ivcrush(dir);
    cmd.env_remove("IVCRUSH_AS_OF")
        .env("TRADIER_API_KEY", "fleet-key")
        .env("ALPHAVANTAGE_API_KEY", "fleet-key");
    cmd
}

#[test]
fn two_processes_on_one_key_share_tradiers_quota_without_a_429_and_use_it_all() {
    let Some(redis) = redis_url() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            expected_api_key: Some("fleet-key".into()),
            rate_limit: Some((120, Duration::from_secs(60))),
            ..MockConfig::new(42, today)
        }))
        .expect("mock starts");
    let ns = namespace("quota");
    let mut scans = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        // Each process with its own database: nothing cached is shared, all of it is asked.
        let dir = tempfile::tempdir().expect("temp dir");
        // Five chains per ticker and a two-month window: about 215 requests per process, more
        // than three windows for the pair.
        fleet_config(
            dir.path(),
            &mock.base_url(),
            &redis,
            &ns,
            "[scan]\nlive_chains = 5\n",
        );
        let child = live(dir.path())
            .args(["scan", "--days", "60", "--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("scan starts");
        scans.push(Running(child));
        dirs.push(dir);
    }
    for scan in &mut scans {
        let child = std::mem::replace(
            &mut scan.0,
            Command::new("true").spawn().expect("placeholder"),
        );
        let out = child.wait_with_output().expect("scan ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "scan failed: {stderr}"
        );
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json rows");
        assert!(
            rows.as_array().is_some_and(|r| !r.is_empty()),
            "rows: {stderr}"
        );
    }
    let windows = mock.window_counts();
    eprintln!(
        "Tradier windows: {windows:?}; requests by path {:?}",
        mock.requests_by_path()
    );
    assert_eq!(mock.rate_limited(), 0, "no 429: {windows:?}");
    assert!(
        windows.iter().all(|&n| n <= 120),
        "never above 120 in a window: {windows:?}"
    );
    assert!(
        windows.len() >= 4,
        "at least three full windows: {windows:?}"
    );
    // Every window but the last (when the scans ran out of work) is used to ≥ 95 %.
    let full = &windows[..windows.len() - 1];
    assert!(
        full.iter().all(|&n| n >= 114),
        "the fleet uses ≥ 95 % of each window: {windows:?}"
    );
}

/// Lines of several processes' stderr, tagged with the process's index.
pub(crate) fn collect_stderr(
    children: &mut [Running],
) -> std::sync::mpsc::Receiver<(usize, String)> {
    use std::io::BufRead;
    let (lines, received) = std::sync::mpsc::channel();
    for (i, child) in children.iter_mut().enumerate() {
        let stderr = child.0.stderr.take().expect("stderr piped");
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send((i, line)).is_err() {
                    return;
                }
            }
        });
    }
    received
}

/// A scheduled scan that finished: which instance ran it, and the fire time (`tick`) it was for.
#[derive(Debug, Clone, PartialEq)]
struct ScheduledScan {
    instance: usize,
    tick: String,
}

/// The scheduled scans that finish before `until` or until `stop` says enough, in order,
/// reading `lines`.
fn scheduled_scans(
    lines: &std::sync::mpsc::Receiver<(usize, String)>,
    until: std::time::Instant,
    mut stop: impl FnMut(&[ScheduledScan]) -> bool,
) -> Vec<ScheduledScan> {
    let mut scans = Vec::new();
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok((instance, line)) => {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if json["message"] == "scan finished" && json["trigger"] == "scheduled" {
                    let tick = json["tick"]
                        .as_str()
                        .unwrap_or_else(|| panic!("a scheduled scan's log says its tick: {line}"));
                    scans.push(ScheduledScan {
                        instance,
                        tick: tick.to_owned(),
                    });
                    if stop(&scans) {
                        break;
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("every instance stopped")
            }
        }
    }
    scans
}

#[test]
fn three_serve_instances_run_each_scheduled_scan_once_and_the_lead_moves_when_the_leader_dies() {
    use std::time::Instant;
    let Some(db) = crate::backfill_ranges::Db::postgres("scheduler") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    // A scan every minute, none at start; one namespace for the three.
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "[server]\nscan_cron = \"0 * * * * *\"\nscan_on_start = false\n\
             [fleet]\nnamespace = \"{}\"\n",
            namespace("scheduler")
        ),
    )
    .expect("config");
    let mut instances: Vec<Running> = (0..3)
        .map(|_| {
            let child = ivcrush(dir.path())
                .env("DATABASE_URL", db.url())
                .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("serve starts");
            Running(child)
        })
        .collect();
    let lines = collect_stderr(&mut instances);

    // Scans are told apart by the tick they are for, not by when they finish: the first
    // scan (cold cache, history backfilled) may take most of a minute on a loaded machine,
    // the next ones a second. The first tick comes within a minute.
    let mut scans = scheduled_scans(&lines, Instant::now() + Duration::from_secs(180), |s| {
        !s.is_empty()
    });
    assert!(!scans.is_empty(), "no scheduled scan within three minutes");
    let leader = scans[0].instance;
    // A second scan of that tick by another instance would follow within seconds.
    scans.extend(scheduled_scans(
        &lines,
        Instant::now() + Duration::from_secs(10),
        |_| false,
    ));

    // The leader dies without a word; a later tick goes to another instance, once.
    instances[leader].0.kill().expect("SIGKILL");
    let killed_at = chrono::Utc::now();
    let after_kill = |s: &ScheduledScan| {
        chrono::DateTime::parse_from_rfc3339(&s.tick).expect("an RFC 3339 tick") > killed_at
    };
    scans.extend(scheduled_scans(
        &lines,
        Instant::now() + Duration::from_secs(180),
        |s| s.iter().any(after_kill),
    ));
    let taken_over = scans
        .iter()
        .find(|s| after_kill(s))
        .unwrap_or_else(|| panic!("nobody scanned a tick after the leader died: {scans:?}"))
        .clone();
    assert_ne!(taken_over.instance, leader, "the lead moved: {scans:?}");
    // Time for a second scan of that tick to show.
    scans.extend(scheduled_scans(
        &lines,
        Instant::now() + Duration::from_secs(10),
        |_| false,
    ));

    for scan in &scans {
        let of_tick: Vec<usize> = scans
            .iter()
            .filter(|s| s.tick == scan.tick)
            .map(|s| s.instance)
            .collect();
        assert_eq!(
            of_tick.len(),
            1,
            "tick {} scanned once: {scans:?}",
            scan.tick
        );
    }
    assert!(
        scans
            .iter()
            .filter(|s| after_kill(s))
            .all(|s| s.instance != leader),
        "the dead leader scanned nothing after its death: {scans:?}"
    );
}

/// The address each of `n` serving processes printed, in process order, reading `lines`
/// (other lines are kept in `seen`).
pub(crate) fn addresses(
    lines: &std::sync::mpsc::Receiver<(usize, String)>,
    n: usize,
    seen: &mut Vec<(usize, String)>,
) -> Vec<String> {
    let mut found: Vec<Option<String>> = vec![None; n];
    while found.iter().any(Option::is_none) {
        let (i, line) = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("every instance prints its address: {seen:?}"));
        // The log line `listening address=…` (stdout has `listening on http://…`).
        let addr = line
            .split_once("listening address=")
            .and_then(|(_, rest)| rest.split_whitespace().next());
        match addr {
            Some(addr) => found[i] = Some(addr.to_owned()),
            None => seen.push((i, line)),
        }
    }
    found.into_iter().flatten().collect()
}

/// The state of breaker `name` in a `GET /api/v1/breakers` answer.
fn breaker_state(answer: &str, name: &str) -> Option<String> {
    let body = answer.split("\r\n\r\n").nth(1)?;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["breakers"]
        .as_array()?
        .iter()
        .find(|b| b["name"] == name)
        .and_then(|b| b["state"].as_str().map(str::to_owned))
}

pub(crate) const API_KEY: &str = "fleet-api-key-0123456789";
/// The key that may operate breakers.
pub(crate) const ADMIN_KEY: &str = "fleet-admin-key-0123456789";

/// The mock vendor with the fleet's key, Tradier's quota and its rate-limit headers.
pub(crate) fn mock_vendor(rt: &tokio::runtime::Runtime, latency: Duration) -> MockVendor {
    let today = ivcrush_app::today_new_york();
    rt.block_on(MockVendor::start(MockConfig {
        expected_api_key: Some("fleet-key".into()),
        latency,
        rate_limit: Some((120, Duration::from_secs(60))),
        ..MockConfig::new(42, today)
    }))
    .expect("mock starts")
}

pub(crate) fn serve(dir: &Path, args: &[&str]) -> Running {
    let child = live(dir)
        .env("IVCRUSH_API_KEYS", API_KEY)
        .env("IVCRUSH_ADMIN_KEYS", ADMIN_KEY)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    Running(child)
}

#[test]
fn a_breaker_forced_open_in_one_serve_process_is_open_in_the_other_within_a_second() {
    use std::time::Instant;
    let Some(redis) = redis_url() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = mock_vendor(&rt, Duration::ZERO);
    let dir = tempfile::tempdir().expect("temp dir");
    fleet_config(
        dir.path(),
        &mock.base_url(),
        &redis,
        &namespace("breaker"),
        "",
    );
    let mut servers = vec![
        serve(dir.path(), &["--no-scheduler"]),
        serve(dir.path(), &["--no-scheduler"]),
    ];
    let lines = collect_stderr(&mut servers);
    let mut seen = Vec::new();
    let addrs = addresses(&lines, 2, &mut seen);
    let state_on = |i: usize| {
        let answer = crate::support::http(&addrs[i], "GET", "/api/v1/breakers", Some(API_KEY));
        breaker_state(&answer, "tradier").unwrap_or_else(|| panic!("breakers listed: {answer}"))
    };
    assert_eq!(state_on(1), "CLOSED");

    let until_on_b = |wanted: &str| {
        let started = Instant::now();
        while state_on(1) != wanted {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{wanted} on the other process within 1 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    };
    let forced = crate::support::http(
        &addrs[0],
        "POST",
        "/api/v1/breakers/tradier/force-open",
        Some(ADMIN_KEY),
    );
    assert!(forced.starts_with("HTTP/1.1 200"), "{forced}");
    let took = until_on_b("FORCED_OPEN");
    eprintln!("forced open seen by the other process after {took:?}");
    let reset = crate::support::http(
        &addrs[0],
        "POST",
        "/api/v1/breakers/tradier/reset",
        Some(ADMIN_KEY),
    );
    assert!(reset.starts_with("HTTP/1.1 200"), "{reset}");
    until_on_b("CLOSED");
    drop(mock);
}

/// A TCP proxy to Redis that the test can cut (every connection dropped, new ones refused)
/// and restore.
struct RedisProxy {
    url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl RedisProxy {
    fn start(rt: &tokio::runtime::Runtime, target: &str) -> RedisProxy {
        use std::sync::atomic::Ordering;
        let target = target
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up_in, connections_in) = (up.clone(), connections.clone());
        rt.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up_in.load(Ordering::Acquire) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                if let Ok(mut list) = connections_in.lock() {
                    list.push(task.abort_handle());
                }
            }
        });
        RedisProxy {
            url: format!("redis://{addr}"),
            up,
            connections,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::Release);
        if let Ok(mut list) = self.connections.lock() {
            for connection in list.drain(..) {
                connection.abort();
            }
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::Release);
    }
}

#[test]
fn redis_lost_mid_scan_the_scan_completes_on_local_shares_health_degrades_and_recovers() {
    use std::time::Instant;
    let Some(redis) = redis_url() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // Slow answers stretch the scan, so that Redis goes away in the middle of it.
    let mock = mock_vendor(&rt, Duration::from_millis(150));
    let proxy = RedisProxy::start(&rt, &redis);
    let dir = tempfile::tempdir().expect("temp dir");
    fleet_config(
        dir.path(),
        &mock.base_url(),
        &proxy.url,
        &namespace("outage"),
        // A per-second quota, so that the fallback's share is used at once (a fixed window
        // falls back after one spent window: tested in the fleet crate).
        "[tradier.resilience]\nrate_limits = [{ limit = 100, window_ms = 1000 }]\n\
         [server]\nscan_on_start = true\n",
    );
    let mut servers = vec![serve(dir.path(), &[])];
    let lines = collect_stderr(&mut servers);
    let mut seen = Vec::new();
    let addr = addresses(&lines, 1, &mut seen).remove(0);

    let started = Instant::now();
    while mock.requests() < 15 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the startup scan runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.cut();
    let before_cut = mock.requests();
    // The scan goes on without Redis and finishes.
    let finished = loop {
        let (_, line) = lines
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the scan finishes: {seen:?}"));
        if line.contains("scan finished") || line.contains("scan failed") {
            break line;
        }
        seen.push((0, line));
    };
    assert!(finished.contains("scan finished"), "{finished}");
    assert!(
        mock.requests() > before_cut,
        "requests went out after Redis was cut"
    );
    let fallbacks = seen
        .iter()
        .filter(|(_, l)| l.contains("shared quota unavailable") && l.contains("tradier"))
        .count();
    assert_eq!(fallbacks, 1, "the fallback is logged once: {seen:?}");

    let ready = || crate::support::http(&addr, "GET", "/health/ready", None);
    let degraded = ready();
    assert!(
        degraded.contains("DEGRADED") && degraded.contains("fleet"),
        "{degraded}"
    );
    proxy.restore();
    let started = Instant::now();
    loop {
        let answer = ready();
        if !answer.contains("DEGRADED") {
            assert!(answer.contains("\"UP\""), "{answer}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "health recovers when Redis returns: {answer}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(mock);
}

#[test]
fn vendor_data_fetched_by_one_process_is_read_by_another_from_redis_and_the_database_answers_without_it()
 {
    let Some(redis) = redis_url() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = mock_vendor(&rt, Duration::ZERO);
    let ns = namespace("cache");
    let ticker = mock.symbols()[0].clone();
    let vendor_reads = || {
        let by_path = mock.requests_by_path();
        [
            "/v1/markets/options/chains",
            "/v1/markets/options/expirations",
        ]
        .iter()
        .map(|p| by_path.get(*p).copied().unwrap_or(0))
        .sum::<u64>()
    };
    let analyze = |dir: &Path| {
        let out =
            crate::support::succeeds(live(dir).args(["analyze", &ticker, "--format", "json"]));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Two processes, each with its own database, one fleet.
    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    fleet_config(a.path(), &mock.base_url(), &redis, &ns, "");
    fleet_config(b.path(), &mock.base_url(), &redis, &ns, "");
    analyze(a.path());
    let after_a = vendor_reads();
    assert!(after_a > 0, "the first process asked the vendor");
    analyze(b.path());
    assert_eq!(
        vendor_reads(),
        after_a,
        "the second process read the chains from the fleet's cache: {:?}",
        mock.requests_by_path()
    );

    // Redis gone: the second process's own database still answers, and says why once.
    fleet_config(b.path(), &mock.base_url(), "redis://127.0.0.1:1", &ns, "");
    let stderr = analyze(b.path());
    assert_eq!(vendor_reads(), after_a, "{:?}", mock.requests_by_path());
    assert_eq!(
        stderr
            .matches("cached in this process's database only")
            .count(),
        1,
        "{stderr}"
    );
    drop(mock);
}
