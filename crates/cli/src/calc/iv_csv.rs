//! `calc iv --input FILE`: implied vols and greeks for every row of a CSV file.
//!
//! Streaming pipeline with a bounded number of chunks in flight, so memory stays flat whatever the
//! file size:
//!
//! ```text
//! reader thread ──(≤2 chunks)──▶ main: rayon par-compute ──(≤2 chunks)──▶ writer thread
//!      ▲                               │
//!      └──── recycled record buffers ──┘
//! ```
//!
//! The reader fills chunks of [`CHUNK_ROWS`] reusable [`ByteRecord`]s; the main thread splits a
//! chunk into sub-chunks solved and CSV-encoded in parallel (each into its own byte buffer, in
//! order); the writer thread writes the buffers in order. A row that cannot be read gets
//! `status = invalid: <reason>` and the run goes on.

use anyhow::{Context, Result, bail};
use crossbeam_channel::{Receiver, Sender, bounded};
use csv::ByteRecord;
use ivcrush_core::{OptionKind, OptionParams, bsm_greeks, implied_vol};
use rayon::prelude::*;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::thread;

/// Rows per chunk read and handed to the parallel stage.
const CHUNK_ROWS: usize = 16 * 1024;
/// Rows per parallel task (one output buffer each).
const TASK_ROWS: usize = 2048;
/// Chunks queued between stages.
const QUEUE: usize = 2;
/// Columns appended to every row.
const APPENDED: [&str; 7] = ["iv", "status", "delta", "gamma", "vega", "theta", "rho"];

/// Positions of the input columns, found by header name.
#[derive(Debug, Clone, Copy)]
struct Columns {
    kind: usize,
    spot: usize,
    strike: usize,
    t: usize,
    rate: usize,
    price: usize,
    div: Option<usize>,
    /// Number of header fields: every output row is padded or cut to this width.
    width: usize,
}

impl Columns {
    fn from_header(header: &ByteRecord) -> Result<Self> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| trim_bytes(h).eq_ignore_ascii_case(name.as_bytes()))
        };
        let required = ["type", "spot", "strike", "t", "rate", "price"];
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|n| find(n).is_none())
            .collect();
        if !missing.is_empty() {
            let have: Vec<String> = header
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect();
            bail!(
                "missing required column{} {} in the CSV header (found: {}); required: {}",
                if missing.len() > 1 { "s" } else { "" },
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if have.is_empty() {
                    "no columns".to_string()
                } else {
                    have.join(",")
                },
                required.join(",")
            );
        }
        let at = |name: &str| find(name).unwrap_or(usize::MAX);
        Ok(Columns {
            kind: at("type"),
            spot: at("spot"),
            strike: at("strike"),
            t: at("t"),
            rate: at("rate"),
            price: at("price"),
            div: find("div"),
            width: header.len(),
        })
    }
}

/// Outcome of one row.
enum Outcome {
    Solved(f64, ivcrush_core::Greeks),
    NoVol(&'static str),
    Invalid(String),
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn parse_num(rec: &ByteRecord, idx: usize, name: &str) -> Result<f64, String> {
    let raw = rec.get(idx).unwrap_or(b"");
    let s = trim_bytes(raw);
    if s.is_empty() {
        return Err(format!("{name} is empty"));
    }
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("{name} is not a number: {:?}", String::from_utf8_lossy(s)))
}

fn parse_kind(rec: &ByteRecord, idx: usize) -> Result<OptionKind, String> {
    let s = trim_bytes(rec.get(idx).unwrap_or(b""));
    if s.eq_ignore_ascii_case(b"call") || s.eq_ignore_ascii_case(b"c") {
        Ok(OptionKind::Call)
    } else if s.eq_ignore_ascii_case(b"put") || s.eq_ignore_ascii_case(b"p") {
        Ok(OptionKind::Put)
    } else {
        Err(format!(
            "type: unknown option type {:?} (expected call/put or c/p)",
            String::from_utf8_lossy(s)
        ))
    }
}

fn solve_row(rec: &ByteRecord, c: &Columns) -> Outcome {
    if rec.len() != c.width {
        return Outcome::Invalid(format!(
            "row has {} fields, header has {}",
            rec.len(),
            c.width
        ));
    }
    let parsed = (|| -> Result<(OptionParams, f64), String> {
        let kind = parse_kind(rec, c.kind)?;
        let spot = parse_num(rec, c.spot, "spot")?;
        let strike = parse_num(rec, c.strike, "strike")?;
        let t = parse_num(rec, c.t, "t")?;
        let rate = parse_num(rec, c.rate, "rate")?;
        let price = parse_num(rec, c.price, "price")?;
        let div = match c.div {
            Some(i) if !trim_bytes(rec.get(i).unwrap_or(b"")).is_empty() => {
                parse_num(rec, i, "div")?
            }
            _ => 0.0,
        };
        let p = OptionParams::new(kind, spot, strike, t, rate, div).map_err(|e| e.to_string())?;
        Ok((p, price))
    })();
    match parsed {
        Err(reason) => Outcome::Invalid(reason),
        Ok((p, price)) => match implied_vol(&p, price) {
            Ok(iv) => Outcome::Solved(iv, bsm_greeks(&p, iv)),
            Err(e) => Outcome::NoVol(e.code()),
        },
    }
}

/// Solves and CSV-encodes a slice of rows into `buf`; also returns how many rows have no vol.
fn encode_rows(rows: &[ByteRecord], c: &Columns, buf: Vec<u8>) -> Result<(Vec<u8>, u64)> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_writer(buf);
    let mut fbuf = ryu::Buffer::new();
    let mut status = String::new();
    let mut failed = 0;
    for rec in rows {
        let outcome = solve_row(rec, c);
        failed += u64::from(!matches!(outcome, Outcome::Solved(..)));
        for i in 0..c.width {
            w.write_field(rec.get(i).unwrap_or(b""))?;
        }
        match outcome {
            Outcome::Solved(iv, g) => {
                w.write_field(fbuf.format(iv))?;
                w.write_field("ok")?;
                for x in [g.delta, g.gamma, g.vega, g.theta, g.rho] {
                    w.write_field(fbuf.format(x))?;
                }
            }
            Outcome::NoVol(code) => {
                w.write_field("")?;
                w.write_field(code)?;
                for _ in 0..5 {
                    w.write_field("")?;
                }
            }
            Outcome::Invalid(reason) => {
                status.clear();
                status.push_str("invalid: ");
                status.push_str(&reason);
                w.write_field("")?;
                w.write_field(&status)?;
                for _ in 0..5 {
                    w.write_field("")?;
                }
            }
        }
        w.write_record(None::<&[u8]>)?;
    }
    let buf = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("encoding CSV: {}", e.error()))?;
    Ok((buf, failed))
}

fn open_input(path: &Path) -> Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(io::stdin()))
    } else {
        let f = File::open(path).with_context(|| format!("opening input {}", path.display()))?;
        Ok(Box::new(f))
    }
}

fn open_output(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    match path {
        None => Ok(Box::new(io::stdout())),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(io::stdout())),
        Some(p) => {
            let f = File::create(p).with_context(|| format!("creating output {}", p.display()))?;
            Ok(Box::new(f))
        }
    }
}

type Chunk = Vec<ByteRecord>;

/// Reads chunks of records until the end of the input (or until the consumer hangs up).
fn read_chunks(
    mut rdr: csv::Reader<Box<dyn Read + Send>>,
    tx: Sender<Result<(Chunk, usize)>>,
    recycled: Receiver<Chunk>,
) {
    loop {
        let mut chunk = recycled.try_recv().unwrap_or_default();
        chunk.resize_with(CHUNK_ROWS, ByteRecord::new);
        let mut n = 0;
        let mut failure = None;
        while n < CHUNK_ROWS {
            match rdr.read_byte_record(&mut chunk[n]) {
                Ok(true) => n += 1,
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    failure = Some(
                        anyhow::Error::new(e)
                            .context(format!("reading the input CSV near line {line}")),
                    );
                    break;
                }
            }
        }
        let done = n < CHUNK_ROWS || failure.is_some();
        if n > 0 && tx.send(Ok((chunk, n))).is_err() {
            return;
        }
        if let Some(e) = failure {
            let _ = tx.send(Err(e));
            return;
        }
        if done {
            return;
        }
    }
}

/// Writes the encoded buffers in order.
fn write_chunks(out: Box<dyn Write + Send>, rx: Receiver<Vec<Vec<u8>>>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    for bufs in rx {
        for b in &bufs {
            out.write_all(b)?;
        }
    }
    out.flush()
}

/// How a batch went: rows written and rows without a vol (a reason code or `invalid: …`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchSummary {
    /// Data rows written.
    pub rows: u64,
    /// Rows whose status is not `ok`.
    pub failed: u64,
}

/// Runs the batch mode: reads `input`, writes the solved rows to `output` (stdout by default).
pub fn run(input: &Path, output: Option<&Path>) -> Result<BatchSummary> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(open_input(input)?);
    let header = rdr
        .byte_headers()
        .with_context(|| format!("reading the CSV header of {}", input.display()))?
        .clone();
    // Validate before the output is created: a bad header writes nothing.
    let cols = Columns::from_header(&header)?;
    if let Some(o) = output.filter(|o| o.as_os_str() != "-" && input.as_os_str() != "-") {
        let same = matches!(
            (input.canonicalize(), o.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        );
        anyhow::ensure!(
            !same,
            "--output {} is the input file: it would be overwritten while being read",
            o.display()
        );
    }
    let mut out = open_output(output)?;

    let mut head = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut full = header.clone();
    for a in APPENDED {
        full.push_field(a.as_bytes());
    }
    head.write_byte_record(&full)?;
    let head = head
        .into_inner()
        .map_err(|e| anyhow::anyhow!("encoding CSV header: {}", e.error()))?;
    out.write_all(&head).context("writing the output")?;

    let (chunk_tx, chunk_rx) = bounded::<Result<(Chunk, usize)>>(QUEUE);
    let (recycle_tx, recycle_rx) = bounded::<Chunk>(QUEUE + 2);
    let (out_tx, out_rx) = bounded::<Vec<Vec<u8>>>(QUEUE);

    thread::scope(|s| -> Result<BatchSummary> {
        s.spawn(move || read_chunks(rdr, chunk_tx, recycle_rx));
        let writer = s.spawn(move || write_chunks(out, out_rx));

        let mut result: Result<()> = Ok(());
        let mut summary = BatchSummary::default();
        for msg in &chunk_rx {
            let (chunk, n) = match msg {
                Ok(c) => c,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let encoded: Result<Vec<(Vec<u8>, u64)>> = chunk[..n]
                .par_chunks(TASK_ROWS)
                .map(|rows| encode_rows(rows, &cols, Vec::with_capacity(rows.len() * 192)))
                .collect();
            let _ = recycle_tx.try_send(chunk);
            match encoded {
                Ok(encoded) => {
                    summary.rows += n as u64;
                    let mut bufs = Vec::with_capacity(encoded.len());
                    for (buf, failed) in encoded {
                        summary.failed += failed;
                        bufs.push(buf);
                    }
                    if out_tx.send(bufs).is_err() {
                        // The writer stopped: its error is reported below.
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Hang up so that the reader and the writer finish.
        drop(chunk_rx);
        drop(out_tx);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the output writer thread panicked"))?;
        result?;
        written.context("writing the output")?;
        Ok(summary)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[&str]) -> ByteRecord {
        let mut r = ByteRecord::new();
        for f in fields {
            r.push_field(f.as_bytes());
        }
        r
    }

    #[test]
    fn header_lookup_any_order_and_missing() {
        let c = Columns::from_header(&rec(&[
            "id", "price", "T", "rate", "strike", "spot", "type",
        ]))
        .map_err(|e| e.to_string());
        let c = c.as_ref().map(|c| (c.kind, c.price, c.div));
        assert_eq!(c, Ok((6, 1, None)));
        let err = Columns::from_header(&rec(&["type", "spot", "t", "rate", "price"]))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(err.is_err_and(|e| e.contains("`strike`")));
    }

    #[test]
    fn bad_fields_are_named() {
        let c = Columns {
            kind: 0,
            spot: 1,
            strike: 2,
            t: 3,
            rate: 4,
            price: 5,
            div: None,
            width: 6,
        };
        let reason = |r: &ByteRecord| match solve_row(r, &c) {
            Outcome::Invalid(s) => s,
            Outcome::NoVol(code) => code.to_string(),
            Outcome::Solved(..) => "ok".to_string(),
        };
        assert!(reason(&rec(&["call", "x", "40", "0.5", "0.1", "4"])).contains("spot"));
        assert!(reason(&rec(&["fwd", "42", "40", "0.5", "0.1", "4"])).contains("type"));
        assert!(reason(&rec(&["call", "42", "-1", "0.5", "0.1", "4"])).contains("strike"));
        assert!(reason(&rec(&["call", "42", "40", "0.5", "0.1"])).contains("fields"));
        assert_eq!(reason(&rec(&["c", "42", "40", "0.5", "0.1", "4.76"])), "ok");
    }
}
