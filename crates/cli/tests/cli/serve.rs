//! `ivcrush serve` end to end: the address it prints, a former `ivcrush-server.toml` read as
//! `[server]` with a deprecation warning, and a clean answer on `/health/live`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use crate::support::Running;

#[test]
fn serve_prints_its_address_and_reads_a_former_server_file_as_the_server_section() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Port 0: the system picks one, and the printed line tells which.
    std::fs::write(
        dir.path().join("ivcrush-server.toml"),
        "bind = \"127.0.0.1:0\"\nscheduler = false\nscan_on_start = false\n",
    )
    .expect("write");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("ivcrush"));
    cmd.current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .env("IVCRUSH_AS_OF", "2026-02-02")
        .env_remove("RUST_LOG")
        .args(["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("IVCRUSH_") && k != "IVCRUSH_AS_OF" {
            cmd.env_remove(k);
        }
    }
    let mut server = Running(cmd.spawn().expect("serve starts"));
    let stderr = server.0.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.trim().to_owned());
            break;
        }
        seen.push(line);
    }
    let addr = addr.unwrap_or_else(|| panic!("no address printed; stderr:\n{}", seen.join("\n")));
    assert!(
        seen.iter()
            .any(|l| l.contains("ivcrush-server.toml is deprecated") && l.contains("[server]")),
        "{seen:?}"
    );
    let mut conn = TcpStream::connect(&addr).expect("connects");
    write!(
        conn,
        "GET /health/live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn invalid_server_settings_are_refused_before_the_database_is_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("never.db");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("ivcrush"))
        .current_dir(dir.path())
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env_remove("RUST_LOG")
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--rate-limit-per-minute",
            "0",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("rate_limit_per_minute"), "{stderr}");
    assert!(
        !db.exists(),
        "the database was created before the settings were checked"
    );
}

/// Under systemd (`Type=notify`): READY=1 once listening, watchdog pings at half the period,
/// SIGHUP logged and survived, STOPPING=1 on SIGTERM, then a clean exit.
#[cfg(unix)]
#[test]
fn serve_notifies_systemd_survives_sighup_and_stops_on_sigterm() {
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("temp dir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut cmd = crate::support::ivcrush(dir.path());
    cmd.env("NOTIFY_SOCKET", &socket_path)
        // 400 ms: pings every 200 ms.
        .env("WATCHDOG_USEC", "400000")
        .args(["serve", "--bind", "127.0.0.1:0", "--no-scheduler"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = Running(cmd.spawn().expect("serve starts"));
    let pid = server.0.id().to_string();
    let mut buf = [0u8; 512];
    let mut receive = || {
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).trim_end().to_owned()
    };
    let ready = receive();
    assert!(ready.contains("READY=1"), "{ready}");
    assert!(ready.contains("STATUS=serving on 127.0.0.1:"), "{ready}");
    let started = Instant::now();
    let watchdog = receive();
    assert_eq!(watchdog, "WATCHDOG=1");

    let kill = |signal: &str| {
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    };
    kill("-HUP");
    // Still pinging after the hangup: the process lives.
    let mut pings = 0;
    while pings < 3 {
        let message = receive();
        assert_eq!(message, "WATCHDOG=1", "only pings while running");
        pings += 1;
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        server.0.try_wait().expect("status").is_none(),
        "SIGHUP did not stop the service"
    );

    kill("-TERM");
    let mut stopping = false;
    for _ in 0..10 {
        if receive() == "STOPPING=1" {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "STOPPING=1 after SIGTERM");
    let status = server.0.wait().expect("exits");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr text");
    assert!(stderr.contains("SIGHUP received"), "{stderr}");
}
