//! The listener's bounds: connections served at once and the time a client has to send its
//! headers (a slow or silent client must not hold a slot).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::start_with;

/// Sends a `GET /health/live` on `stream`.
async fn ask(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
}

/// Sends a `GET /health/live` on `stream` and reads the status line, within `within`.
async fn status_line(stream: &mut TcpStream, within: Duration) -> Option<String> {
    ask(stream).await;
    answer_line(stream, within).await
}

/// The status line of the answer on `stream`, read within `within`.
async fn answer_line(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn beyond_max_connections_a_client_waits_until_a_slot_frees() {
    let server = start_with(|s| {
        s.max_connections = 2;
        s.header_read_timeout_ms = 60_000;
    })
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Two silent clients take both slots.
    let first = TcpStream::connect(&addr).await.expect("connect");
    let _second = TcpStream::connect(&addr).await.expect("connect");
    // A third connects (the kernel's backlog takes it) but is not served while they stay.
    let mut third = TcpStream::connect(&addr).await.expect("connect");
    ask(&mut third).await;
    assert_eq!(
        answer_line(&mut third, Duration::from_millis(500)).await,
        None,
        "a third connection was served beside two open ones with max_connections = 2"
    );
    // One silent client leaves: the waiting one is served.
    drop(first);
    let line = answer_line(&mut third, Duration::from_secs(10)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 200 OK"));
    // A client that never sent a byte does not hold the shutdown for its header timeout.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), server.stop())
            .await
            .is_ok(),
        "the shutdown waited for a silent client"
    );
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_headers_in_time_is_disconnected() {
    let server = start_with(|s| s.header_read_timeout_ms = 300).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    let started = std::time::Instant::now();
    // Half a request, then silence (a slowloris client).
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server kept a client with half its headers for 10 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    // A silent connection (no byte at all) is closed the same way.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a silent client for 10 s");
    // And a client in time is served.
    let mut prompt = TcpStream::connect(&addr).await.expect("connect");
    let line = status_line(&mut prompt, Duration::from_secs(10)).await;
    assert_eq!(line.as_deref(), Some("HTTP/1.1 200 OK"));
    server.stop().await;
}
