//! Bounds on what outside data may cost: vendor answers over `max_body_bytes` are refused
//! without being buffered, JSON nesting and CSV records are bounded, import files are capped.

use std::time::{Duration, Instant};

use ivcrush_market::files::{self, MAX_CSV_RECORD_BYTES, MAX_FILE_BYTES};
use ivcrush_market::tradier::{self, TradierClient};
use ivcrush_market::{MarketError, OptionsData};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::tradier::{config, d};

/// A vendor that answers every request with `head` and then streams zeros for as long as the
/// client reads (or for ever: it stops when the client hangs up). Returns its base URL and
/// a counter of the body bytes it managed to send.
async fn endless_vendor(
    head: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunked = head.contains("chunked");
                let block = vec![b'0'; 64 * 1024];
                loop {
                    let written = if chunked {
                        let mut frame = format!("{:x}\r\n", block.len()).into_bytes();
                        frame.extend_from_slice(&block);
                        frame.extend_from_slice(b"\r\n");
                        socket.write_all(&frame).await
                    } else {
                        socket.write_all(&block).await
                    };
                    if written.is_err() {
                        return;
                    }
                    counter.fetch_add(block.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    (base, sent)
}

fn is_too_large(e: &MarketError) -> bool {
    matches!(e, MarketError::Decode { message, .. } if message.contains("over the limit"))
}

#[tokio::test]
async fn a_chain_answer_declaring_a_gigabyte_is_refused_before_its_body_is_read() {
    let (base, sent) = endless_vendor(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n",
    )
    .await;
    let client = TradierClient::new(config(&base)).expect("client");
    let started = Instant::now();
    let e = client
        .chain("AAPL", d("2026-01-30"))
        .await
        .expect_err("a 1 GB answer");
    assert!(is_too_large(&e), "{e}");
    assert!(e.to_string().contains("1073741824"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Refused unread: the vendor could push at most what the socket buffers held.
    let pushed = sent.load(std::sync::atomic::Ordering::Relaxed);
    assert!(pushed < 64 * 1024 * 1024, "{pushed} bytes went out");
}

#[tokio::test]
async fn an_endless_chunked_answer_is_cut_at_the_limit() {
    let (base, _) = endless_vendor(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    let mut cfg = config(&base);
    cfg.http.max_body_bytes = 1024 * 1024;
    let client = TradierClient::new(cfg).expect("client");
    let e = client
        .chain("AAPL", d("2026-01-30"))
        .await
        .expect_err("an endless answer");
    assert!(is_too_large(&e), "{e}");
    assert!(e.to_string().contains("tradier.http.max_body_bytes"), "{e}");
}

#[test]
fn json_nested_beyond_128_levels_is_a_decode_error_not_a_stack_overflow() {
    for depth in [129, 10_000, 1_000_000] {
        let body = format!(
            "{{\"options\":{{\"option\":{}{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let e = tradier::parse_chain_options(&body).expect_err("too deep");
        assert!(e.to_string().contains("recursion limit"), "{depth}: {e}");
        let loaded = files::parse_chain_json("deep.json", &body);
        assert!(loaded.rows.is_empty() && !loaded.errors.is_empty());
    }
}

#[test]
fn a_csv_record_over_64_kib_is_a_bad_row_and_the_others_load() {
    let long = "X".repeat(MAX_CSV_RECORD_BYTES + 1);
    let text = format!(
        "ticker,date,timing\nAAPL,2026-01-29,AMC\n{long},2026-01-30,BMO\nMSFT,2026-01-28,AMC\n"
    );
    let loaded = files::parse_calendar_csv("calendar.csv", &text);
    assert_eq!(loaded.rows.len(), 2, "{:?}", loaded.errors);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].line, 3);
    assert!(
        loaded.errors[0].reason.contains("over the limit of 65536"),
        "{:?}",
        loaded.errors
    );
}

#[test]
fn an_import_file_over_the_cap_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("chains.csv");
    // Sparse: the size is declared, no disk is used.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_FILE_BYTES + 1).expect("set_len");
    let e = files::load_chains_csv(&path).expect_err("too large");
    assert!(e.to_string().contains("over the limit of 536870912"), "{e}");
    assert!(e.to_string().contains("chains.csv"), "{e}");
}
