//! The W3C trace of a run or a request reaches the vendor: every vendor request carries a
//! `traceparent` of the same trace, with its own parent ID.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::fleet::{API_KEY, addresses, collect_stderr, live, mock_vendor, serve};

/// The trace IDs of the `traceparent` headers the mock received, checking their form.
fn trace_ids(traceparents: &[String]) -> BTreeSet<String> {
    traceparents
        .iter()
        .map(|t| {
            let parts: Vec<&str> = t.split('-').collect();
            assert_eq!(parts.len(), 4, "{t}");
            assert_eq!((parts[0], parts[3]), ("00", "01"), "{t}");
            assert_eq!((parts[1].len(), parts[2].len()), (32, 16), "{t}");
            parts[1].to_owned()
        })
        .collect()
}

#[test]
fn a_command_and_a_request_carry_their_trace_to_every_vendor_request() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = mock_vendor(&rt, Duration::ZERO);
    let dir = tempfile::tempdir().expect("dir");
    // Alone (no Redis): the trace does not depend on the fleet.
    crate::fleet::fleet_config(dir.path(), &mock.base_url(), "", "trace", "");
    let ticker = mock.symbols()[0].clone();

    // A command: its run ID is the trace of all its vendor requests.
    crate::support::succeeds(live(dir.path()).args(["analyze", &ticker, "--format", "json"]));
    let sent = mock.traceparents();
    assert_eq!(
        sent.len() as u64,
        mock.requests(),
        "every request carries one"
    );
    let ids = trace_ids(&sent);
    assert_eq!(ids.len(), 1, "one trace for the run: {ids:?}");
    let parents: BTreeSet<&str> = sent.iter().map(|t| &t[36..52]).collect();
    assert_eq!(
        parents.len(),
        sent.len(),
        "each request has its own parent ID"
    );

    // A request with the caller's traceparent: its vendor requests join the caller's trace.
    let mut servers = vec![serve(dir.path(), &["--no-scheduler"])];
    let lines = collect_stderr(&mut servers);
    let addr = addresses(&lines, 1, &mut Vec::new()).remove(0);
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let before = sent.len();
    let answer = {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&addr).expect("connects");
        write!(
            conn,
            "GET /api/v1/analyze/{ticker} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {API_KEY}\r\n\
             traceparent: 00-{caller}-00f067aa0ba902b7-01\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("answer");
        answer
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let during = &mock.traceparents()[before..];
    assert!(!during.is_empty(), "the request reached the vendor");
    assert_eq!(trace_ids(during), BTreeSet::from([caller.to_owned()]));
}
