//! `--log-format json`: every stderr line of a serving process is one flat JSON object, the
//! request's ID is on every line logged while serving it (however deep the span), numbers are
//! numbers, and a fatal error is a JSON line too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::ivcrush;

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const KEY: &str = "json-log-test-key-0123456789";

fn parse(line: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        _ => panic!("a stderr line that is not a JSON object: {line}"),
    }
}

fn get(addr: &str, path: &str, request_id: &str) -> String {
    let mut conn = TcpStream::connect(addr).expect("connects");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {KEY}\r\nX-Request-Id: {request_id}\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    answer
}

#[test]
fn every_line_of_a_serving_process_is_flat_json_with_the_request_id_on_each_request_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        "[server]\nbind = \"127.0.0.1:0\"\nscheduler = false\nscan_on_start = false\n",
    )
    .expect("write");
    let mut cmd = ivcrush(dir.path());
    cmd.env("IVCRUSH_API_KEYS", KEY)
        .args(["serve", "--log-format", "json", "-vv"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = Running(cmd.spawn().expect("serve starts"));
    let stderr = server.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no listening line; stderr so far:\n{}", lines.join("\n")));
        let object = parse(&line);
        lines.push(line);
        if object.get("message") == Some(&Value::from("listening")) {
            break object["address"]
                .as_str()
                .expect("the address is a string")
                .to_owned();
        }
    };
    let start = lines.iter().map(|l| parse(l)).find(|l| {
        l.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("starting"))
    });
    let start = start.expect("a start line");
    assert!(
        start.get("git_sha").is_some_and(Value::is_string),
        "{start:?}"
    );

    let scan = get(&addr, "/api/v1/scan", "json-log-scan-0");
    assert!(scan.starts_with("HTTP/1.1 200"), "{scan}");
    let body: Value = scan
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_else(|| panic!("a JSON body: {scan}"));
    let ticker = body["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r.get("error").is_none()))
        .and_then(|r| r["ticker"].as_str())
        .expect("an analysed row")
        .to_owned();
    let answer = get(
        &addr,
        &format!("/api/v1/analyze/{ticker}"),
        "json-log-analyze-1",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = get(&addr, "/api/v1/analyze/ZZZZZ", "json-log-missing-2");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // The access-log line of the last request is the last line the requests write.
    let mut seen_last = false;
    while !seen_last {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the requests are logged");
        let object = parse(&line);
        seen_last = object.get("request_id") == Some(&Value::from("json-log-missing-2"))
            && object.get("message") == Some(&Value::from("request answered"));
        lines.push(line);
    }
    drop(server);

    let objects: Vec<_> = lines.iter().map(|l| parse(l)).collect();
    let in_request: Vec<_> = objects
        .iter()
        .filter(|o| {
            o.get("spans")
                .and_then(Value::as_str)
                .is_some_and(|s| s.split('>').any(|name| name == "request"))
        })
        .collect();
    assert!(
        in_request.len() >= 4,
        "the analysis logs inside its request: {in_request:?}"
    );
    for o in &in_request {
        let id = o.get("request_id").and_then(Value::as_str);
        assert!(
            matches!(
                id,
                Some("json-log-scan-0" | "json-log-analyze-1" | "json-log-missing-2")
            ),
            "a line inside a request without its ID: {o:?}"
        );
    }
    let deep = in_request.iter().any(|o| {
        o.get("spans")
            .and_then(Value::as_str)
            .is_some_and(|s| s.matches('>').count() >= 1 && !s.ends_with(">request"))
    });
    assert!(
        deep,
        "some request line comes from a nested span: {in_request:?}"
    );
    let answered = in_request
        .iter()
        .find(|o| o.get("message") == Some(&Value::from("request answered")))
        .expect("an access-log line");
    assert!(answered["latency_ms"].is_number(), "{answered:?}");
    assert!(answered["status"].is_number(), "{answered:?}");
    for o in &objects {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(o.contains_key(key), "{key} missing: {o:?}");
        }
    }
}

#[test]
fn a_fatal_error_is_a_json_line_when_logs_are_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ivcrush(dir.path())
        .args(["analyze", "NOT A SYMBOL", "--log-format", "json"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let objects: Vec<_> = stderr.lines().map(parse).collect();
    let fatal = objects.last().expect("a line");
    assert_eq!(fatal["level"], "ERROR", "{stderr}");
    assert!(fatal["exit_code"].is_number(), "{stderr}");
    assert!(
        fatal["message"]
            .as_str()
            .is_some_and(|m| m.contains("NOT A SYMBOL")),
        "{stderr}"
    );
}
