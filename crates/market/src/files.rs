//! File import: CSV calendars, daily bars and option-chain snapshots, Tradier-format JSON chain
//! snapshots, and [`FileMarket`], an offline source implementing the three traits from memory
//! (`--provider files`).
//!
//! Loading never stops at a bad row: every bad row is reported as a [`RowError`] (file, line,
//! reason) and the good rows still load. Columns are located by header name (case-insensitive).
//!
//! # Directory layout ([`FileMarket::load`]); every file is optional
//! ```text
//! <dir>/calendar.csv     ticker,date,timing[,name]          timing: BMO|AMC|UNKNOWN|pre-market|post-market|empty
//! <dir>/bars.csv         ticker,date,open,high,low,close,volume
//! <dir>/chains.csv       as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta
//! <dir>/chains/*.json    Tradier `/v1/markets/options/chains` bodies (underlying and expiration
//!                        read from each contract)
//! <dir>/chains/*.csv     more snapshots in the chains.csv format (`ivcrush import chains`)
//! ```
//! Every snapshot is kept. Without an as-of the latest snapshot of each underlying and
//! expiration is served. Replayed at an as-of ([`FileMarket::with_as_of`]: `--as-of`, a
//! backtest's entries and exits) the market is what was known then: the latest snapshot taken
//! on that New York day at or before the as-of (an older one is not served: no chain that day),
//! and the bars whose session had closed.
//! Quotes are served from the latest chain snapshot's `spot`, else the last bar's close.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ivcrush_core::calendar::new_york_date;
use ivcrush_core::{Bar, EarningsEvent, OptionChain, OptionKind, OptionQuote, Timing};
use serde::Serialize;

use crate::error::MarketError;
use crate::http::parse_flex;
use crate::source::{
    EarningsCalendar, EarningsRecord, MarketData, OptionsData, PriceHistory, StockQuote,
};
use crate::tradier;

/// Largest file read by an import or `--provider files` (512 MiB): a bigger one is refused
/// before it is read (split it: `chains/` takes any number of files).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// Longest CSV record (64 KiB, about 500 times a real row): a longer one is a bad row.
pub const MAX_CSV_RECORD_BYTES: usize = 64 * 1024;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// File (as given).
    pub file: String,
    /// 1-based line number (1 = header).
    pub line: u64,
    /// Why the row was rejected.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Good rows and the bad rows' errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// Rows that parsed.
    pub rows: Vec<T>,
    /// Rows that did not.
    pub errors: Vec<RowError>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            rows: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// One daily bar of one ticker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarRow {
    /// Ticker.
    pub ticker: String,
    /// The bar.
    pub bar: Bar,
}

/// One option of a chain snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainRow {
    /// Snapshot time.
    pub as_of: DateTime<Utc>,
    /// Underlying.
    pub underlying: String,
    /// Underlying price at `as_of`.
    pub spot: Option<f64>,
    /// Expiration.
    pub expiration: NaiveDate,
    /// The quote.
    pub quote: OptionQuote,
    /// IV as supplied (display only).
    pub iv: Option<f64>,
    /// Delta as supplied (display only).
    pub delta: Option<f64>,
}

/// Column lookup for one CSV file.
struct Columns {
    index: BTreeMap<String, usize>,
}

impl Columns {
    fn get<'r>(&self, record: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.index
            .get(name)
            .and_then(|i| record.get(*i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    fn req<'r>(&self, record: &'r csv::StringRecord, name: &str) -> Result<&'r str, String> {
        self.get(record, name)
            .ok_or_else(|| format!("missing value for `{name}`"))
    }
}

fn parse_csv<T>(
    file: &str,
    text: &str,
    required: &[&str],
    mut row: impl FnMut(&Columns, &csv::StringRecord) -> Result<T, String>,
) -> Loaded<T> {
    let mut out = Loaded::default();
    let err = |line: u64, reason: String| RowError {
        file: file.to_owned(),
        line,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.errors.push(err(1, format!("unreadable header: {e}")));
            return out;
        }
    };
    let columns = Columns {
        index: headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
            .collect(),
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !columns.index.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        out.errors
            .push(err(1, format!("missing column(s): {}", missing.join(", "))));
        return out;
    }
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let size = record.as_byte_record().as_slice().len();
                if size > MAX_CSV_RECORD_BYTES {
                    out.errors.push(err(
                        line,
                        format!(
                            "the record is {size} bytes, over the limit of {MAX_CSV_RECORD_BYTES}"
                        ),
                    ));
                    continue;
                }
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                match row(&columns, &record) {
                    Ok(t) => out.rows.push(t),
                    Err(reason) => out.errors.push(err(line, reason)),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.errors.push(err(line, e.to_string()));
            }
        }
    }
    out
}

fn date(s: &str, what: &str) -> Result<NaiveDate, String> {
    s.parse()
        .map_err(|_| format!("invalid {what} {s:?} (expected YYYY-MM-DD)"))
}

fn number(c: &Columns, r: &csv::StringRecord, name: &str) -> Result<Option<f64>, String> {
    match c.get(r, name) {
        None => Ok(None),
        Some(s) => parse_flex(s).map_err(|e| format!("`{name}`: {e}")),
    }
}

fn req_number(c: &Columns, r: &csv::StringRecord, name: &str) -> Result<f64, String> {
    number(c, r, name)?.ok_or_else(|| format!("missing value for `{name}`"))
}

fn count(c: &Columns, r: &csv::StringRecord, name: &str) -> Result<u64, String> {
    match number(c, r, name)? {
        None => Ok(0),
        Some(v) if v >= 0.0 => Ok(v.round() as u64),
        Some(v) => Err(format!("`{name}` is negative: {v}")),
    }
}

fn timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(format!(
        "invalid as_of {s:?} (expected RFC 3339 or YYYY-MM-DD[ HH:MM:SS])"
    ))
}

/// Parses a calendar CSV (`ticker,date,timing[,name]`).
pub fn parse_calendar_csv(file: &str, text: &str) -> Loaded<EarningsRecord> {
    parse_csv(file, text, &["ticker", "date"], |c, r| {
        let ticker = c.req(r, "ticker")?.to_ascii_uppercase();
        let date = date(c.req(r, "date")?, "date")?;
        let timing = match c.get(r, "timing") {
            None => Timing::Unknown,
            Some(t) => {
                let parsed: Timing = t.parse().unwrap_or_default();
                if parsed == Timing::Unknown && !t.eq_ignore_ascii_case("unknown") {
                    return Err(format!("invalid timing {t:?} (BMO, AMC or UNKNOWN)"));
                }
                parsed
            }
        };
        Ok(EarningsRecord {
            ticker,
            name: c.get(r, "name").map(str::to_owned),
            event: EarningsEvent { date, timing },
        })
    })
}

/// Parses a daily-bars CSV (`ticker,date,open,high,low,close,volume`).
pub fn parse_bars_csv(file: &str, text: &str) -> Loaded<BarRow> {
    parse_csv(
        file,
        text,
        &["ticker", "date", "open", "high", "low", "close"],
        |c, r| {
            let ticker = c.req(r, "ticker")?.to_ascii_uppercase();
            let bar = Bar {
                date: date(c.req(r, "date")?, "date")?,
                open: req_number(c, r, "open")?,
                high: req_number(c, r, "high")?,
                low: req_number(c, r, "low")?,
                close: req_number(c, r, "close")?,
                volume: count(c, r, "volume")?,
            };
            if !(bar.low <= bar.high && bar.low > 0.0) {
                return Err(format!(
                    "inconsistent bar: low {} high {}",
                    bar.low, bar.high
                ));
            }
            Ok(BarRow { ticker, bar })
        },
    )
}

/// Parses an option-chain snapshot CSV
/// (`as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta`).
pub fn parse_chains_csv(file: &str, text: &str) -> Loaded<ChainRow> {
    parse_csv(
        file,
        text,
        &[
            "as_of",
            "underlying",
            "expiration",
            "strike",
            "type",
            "bid",
            "ask",
        ],
        |c, r| {
            let kind: OptionKind = c
                .req(r, "type")?
                .parse()
                .map_err(|e: ivcrush_core::types::ParseKindError| e.to_string())?;
            let strike = req_number(c, r, "strike")?;
            if strike <= 0.0 {
                return Err(format!("strike must be > 0, got {strike}"));
            }
            let bid = number(c, r, "bid")?.unwrap_or(0.0);
            let ask = number(c, r, "ask")?.unwrap_or(0.0);
            if bid < 0.0 || ask < 0.0 {
                return Err("negative bid or ask".to_owned());
            }
            Ok(ChainRow {
                as_of: timestamp(c.req(r, "as_of")?)?,
                underlying: c.req(r, "underlying")?.to_ascii_uppercase(),
                spot: number(c, r, "spot")?,
                expiration: date(c.req(r, "expiration")?, "expiration")?,
                quote: OptionQuote {
                    kind,
                    strike,
                    bid,
                    ask,
                    last: number(c, r, "last")?,
                    volume: count(c, r, "volume")?,
                    open_interest: count(c, r, "open_interest")?,
                },
                iv: number(c, r, "iv")?,
                delta: number(c, r, "delta")?,
            })
        },
    )
}

/// One chain of a JSON snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonChain {
    /// Underlying.
    pub underlying: String,
    /// The chain.
    pub chain: OptionChain,
}

/// Parses a Tradier-format chains JSON snapshot (the same parser as the client), grouped by
/// underlying and expiration. A contract without underlying, expiration, strike or type is a
/// bad row (line 0: JSON has no row lines; the reason names the contract).
pub fn parse_chain_json(file: &str, text: &str) -> Loaded<JsonChain> {
    let mut out = Loaded::default();
    let options = match tradier::parse_chain_options(text) {
        Ok(o) => o,
        Err(e) => {
            out.errors.push(RowError {
                file: file.to_owned(),
                line: 0,
                reason: e.to_string(),
            });
            return out;
        }
    };
    let mut groups: BTreeMap<(String, NaiveDate), Vec<OptionQuote>> = BTreeMap::new();
    for (i, o) in options.iter().enumerate() {
        let underlying = o
            .underlying
            .clone()
            .filter(|u| !u.is_empty())
            .map(|u| u.to_ascii_uppercase());
        match (underlying, o.expiration_date, o.to_quote()) {
            (Some(u), Some(e), Some(q)) => groups.entry((u, e)).or_default().push(q),
            _ => out.errors.push(RowError {
                file: file.to_owned(),
                line: 0,
                reason: format!(
                    "contract #{} ({}) lacks underlying, expiration_date, strike or option_type",
                    i + 1,
                    o.symbol
                ),
            }),
        }
    }
    out.rows = groups
        .into_iter()
        .map(|((underlying, expiration), quotes)| JsonChain {
            underlying,
            chain: OptionChain::new(expiration, quotes),
        })
        .collect();
    out
}

/// The text of `path`, refused when over [`MAX_FILE_BYTES`] (checked before reading, and
/// while reading: a file may grow, a FIFO has no length).
fn read(path: &Path) -> Result<String, MarketError> {
    use std::io::Read;
    let cannot =
        |e: std::io::Error| MarketError::Input(format!("cannot read {}: {e}", path.display()));
    let too_large = |size: String| {
        MarketError::Input(format!(
            "cannot read {}: it is {size} bytes, over the limit of {MAX_FILE_BYTES}; split it \
             into several files",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let declared = file.metadata().map_err(cannot)?.len();
    if declared > MAX_FILE_BYTES {
        return Err(too_large(declared.to_string()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(format!("more than {MAX_FILE_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        MarketError::Input(format!(
            "cannot read {}: not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Loads a calendar CSV file.
///
/// # Errors
/// [`MarketError::Input`] when the file cannot be read.
pub fn load_calendar_csv(path: &Path) -> Result<Loaded<EarningsRecord>, MarketError> {
    Ok(parse_calendar_csv(
        &path.display().to_string(),
        &read(path)?,
    ))
}

/// Loads a daily-bars CSV file.
///
/// # Errors
/// [`MarketError::Input`] when the file cannot be read.
pub fn load_bars_csv(path: &Path) -> Result<Loaded<BarRow>, MarketError> {
    Ok(parse_bars_csv(&path.display().to_string(), &read(path)?))
}

/// Loads an option-chain snapshot CSV file.
///
/// # Errors
/// [`MarketError::Input`] when the file cannot be read.
pub fn load_chains_csv(path: &Path) -> Result<Loaded<ChainRow>, MarketError> {
    Ok(parse_chains_csv(&path.display().to_string(), &read(path)?))
}

/// Writes chain-snapshot rows in the `chains.csv` format (what [`parse_chains_csv`] reads back
/// as the same rows).
pub fn chains_csv_text(rows: &[ChainRow]) -> String {
    use std::fmt::Write as _;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let mut t = String::from(
        "as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta\n",
    );
    for r in rows {
        let q = &r.quote;
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.as_of.to_rfc3339(),
            r.underlying,
            opt(r.spot),
            r.expiration,
            q.strike,
            q.kind.as_str(),
            q.bid,
            q.ask,
            opt(q.last),
            q.volume,
            q.open_interest,
            opt(r.iv),
            opt(r.delta)
        );
    }
    t
}

/// Loads a Tradier-format chains JSON file.
///
/// # Errors
/// [`MarketError::Input`] when the file cannot be read.
pub fn load_chain_json(path: &Path) -> Result<Loaded<JsonChain>, MarketError> {
    Ok(parse_chain_json(&path.display().to_string(), &read(path)?))
}

/// An offline market loaded from files (see the module docs for the layout). Implements
/// [`OptionsData`], [`PriceHistory`] and [`EarningsCalendar`].
#[derive(Debug, Clone, Default)]
pub struct FileMarket {
    calendar: Vec<EarningsRecord>,
    bars: BTreeMap<String, Vec<Bar>>,
    /// Underlying → expiration → snapshot time → chain.
    chains: BTreeMap<String, BTreeMap<NaiveDate, BTreeMap<DateTime<Utc>, OptionChain>>>,
    /// Underlying → snapshot time → spot.
    spots: BTreeMap<String, BTreeMap<DateTime<Utc>, f64>>,
    today: Option<NaiveDate>,
    /// The instant replayed; `None`: the latest of everything.
    as_of: Option<DateTime<Utc>>,
}

impl FileMarket {
    /// Loads every file of the layout present in `dir`; returns the market and the bad rows.
    ///
    /// # Errors
    /// [`MarketError::Input`] when `dir` is not a readable directory or a present file cannot
    /// be read.
    pub fn load(dir: impl AsRef<Path>) -> Result<(FileMarket, Vec<RowError>), MarketError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(MarketError::Input(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let mut market = FileMarket::default();
        let mut errors = Vec::new();
        let calendar = dir.join("calendar.csv");
        if calendar.is_file() {
            let l = load_calendar_csv(&calendar)?;
            errors.extend(l.errors);
            market.add_calendar(l.rows);
        }
        let bars = dir.join("bars.csv");
        if bars.is_file() {
            let l = load_bars_csv(&bars)?;
            errors.extend(l.errors);
            market.add_bars(l.rows);
        }
        let chains = dir.join("chains.csv");
        if chains.is_file() {
            let l = load_chains_csv(&chains)?;
            errors.extend(l.errors);
            market.add_chain_rows(l.rows);
        }
        let json_dir = dir.join("chains");
        if json_dir.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&json_dir)
                .map_err(|e| {
                    MarketError::Input(format!("cannot list {}: {e}", json_dir.display()))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("json") || x.eq_ignore_ascii_case("csv")
                    })
                })
                .collect();
            paths.sort();
            for path in paths {
                if path
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("csv"))
                {
                    // Snapshots added by `ivcrush import chains` (the chains.csv format).
                    let l = load_chains_csv(&path)?;
                    errors.extend(l.errors);
                    market.add_chain_rows(l.rows);
                    continue;
                }
                let l = load_chain_json(&path)?;
                errors.extend(l.errors);
                // JSON snapshots carry no snapshot time: file modification time, else now.
                let as_of = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_else(|_| Utc::now());
                for c in l.rows {
                    market.put_chain(c.underlying, as_of, c.chain);
                }
            }
        }
        Ok((market, errors))
    }

    /// Replays the market at `at` (see the module docs): same-day snapshots at or before it,
    /// bars of closed sessions.
    pub fn with_as_of(mut self, at: DateTime<Utc>) -> FileMarket {
        self.as_of = Some(at);
        self
    }

    /// The snapshot of `per` the as-of sees.
    fn seen<'a, T>(
        &self,
        per: &'a BTreeMap<DateTime<Utc>, T>,
    ) -> Option<(&'a DateTime<Utc>, &'a T)> {
        match self.as_of {
            None => per.iter().next_back(),
            Some(at) => per
                .range(..=at)
                .next_back()
                .filter(|(t, _)| new_york_date(**t) == new_york_date(at)),
        }
    }

    /// Whether the session of `date` had closed at the as-of.
    fn closed(&self, date: NaiveDate) -> bool {
        self.as_of
            .is_none_or(|at| ivcrush_core::calendar::close_of(date) <= at)
    }

    /// Fixes "today" (past reports are those dated before it). Default: the UTC date now.
    pub fn with_today(mut self, today: NaiveDate) -> FileMarket {
        self.today = Some(today);
        self
    }

    /// Adds calendar records.
    pub fn add_calendar(&mut self, records: impl IntoIterator<Item = EarningsRecord>) {
        self.calendar.extend(records);
        self.calendar
            .sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
        self.calendar
            .dedup_by(|a, b| a.ticker == b.ticker && a.event == b.event);
    }

    /// Adds bars (a later row for the same ticker and date replaces the earlier one).
    pub fn add_bars(&mut self, rows: impl IntoIterator<Item = BarRow>) {
        for r in rows {
            let bars = self.bars.entry(r.ticker).or_default();
            match bars.binary_search_by_key(&r.bar.date, |b| b.date) {
                Ok(i) => bars[i] = r.bar,
                Err(i) => bars.insert(i, r.bar),
            }
        }
    }

    /// Adds chain-snapshot rows (the latest `as_of` per underlying and expiration wins).
    pub fn add_chain_rows(&mut self, rows: impl IntoIterator<Item = ChainRow>) {
        let mut groups: BTreeMap<(String, NaiveDate, DateTime<Utc>), Vec<OptionQuote>> =
            BTreeMap::new();
        for r in rows {
            if let Some(spot) = r.spot {
                self.spots
                    .entry(r.underlying.clone())
                    .or_default()
                    .insert(r.as_of, spot);
            }
            groups
                .entry((r.underlying, r.expiration, r.as_of))
                .or_default()
                .push(r.quote);
        }
        for ((underlying, expiration, as_of), quotes) in groups {
            self.put_chain(underlying, as_of, OptionChain::new(expiration, quotes));
        }
    }

    fn put_chain(&mut self, underlying: String, as_of: DateTime<Utc>, chain: OptionChain) {
        self.chains
            .entry(underlying)
            .or_default()
            .entry(chain.expiration)
            .or_default()
            .insert(as_of, chain);
    }

    fn known(&self, symbol: &str) -> bool {
        self.chains.contains_key(symbol)
            || self.bars.contains_key(symbol)
            || self.calendar.iter().any(|r| r.ticker == symbol)
    }

    /// The market as a [`MarketData`] bundle named `files`.
    pub fn market_data(self) -> MarketData {
        let me = Arc::new(self);
        MarketData {
            source: "files",
            options: me.clone(),
            history: me.clone(),
            calendar: me,
        }
    }
}

fn norm(symbol: &str) -> String {
    symbol.trim().to_ascii_uppercase()
}

#[async_trait]
impl OptionsData for FileMarket {
    async fn expirations(&self, symbol: &str) -> Result<Vec<NaiveDate>, MarketError> {
        let symbol = norm(symbol);
        match self.chains.get(&symbol) {
            Some(per) => Ok(per
                .iter()
                .filter(|(_, snapshots)| self.seen(snapshots).is_some())
                .map(|(expiration, _)| *expiration)
                .collect()),
            None if self.known(&symbol) => Ok(Vec::new()),
            None => Err(MarketError::UnknownSymbol(symbol)),
        }
    }

    async fn chain(&self, symbol: &str, expiration: NaiveDate) -> Result<OptionChain, MarketError> {
        let symbol = norm(symbol);
        let seen = self
            .chains
            .get(&symbol)
            .and_then(|p| p.get(&expiration))
            .and_then(|snapshots| self.seen(snapshots));
        match seen {
            Some((_, chain)) => Ok(chain.clone()),
            None if self.known(&symbol) => Ok(OptionChain {
                expiration,
                quotes: Vec::new(),
                vendor: None,
            }),
            None => Err(MarketError::UnknownSymbol(symbol)),
        }
    }

    async fn quotes(&self, symbols: &[String]) -> Result<Vec<StockQuote>, MarketError> {
        Ok(symbols
            .iter()
            .filter_map(|s| {
                let s = norm(s);
                let quote =
                    |last: f64, as_of: DateTime<Utc>, prev: Option<f64>, volume| StockQuote {
                        symbol: s.clone(),
                        last,
                        bid: None,
                        ask: None,
                        prev_close: prev,
                        volume,
                        quoted_at: Some(as_of),
                    };
                if let Some((as_of, spot)) = self.spots.get(&s).and_then(|p| self.seen(p)) {
                    return Some(quote(*spot, *as_of, None, 0));
                }
                let bars = self.bars.get(&s)?;
                let closed = bars.partition_point(|b| self.closed(b.date));
                let bars = &bars[..closed];
                let last = bars.last()?;
                let prev = bars.len().checked_sub(2).map(|i| bars[i].close);
                let as_of = last
                    .date
                    .and_hms_opt(21, 0, 0)
                    .unwrap_or_default()
                    .and_utc();
                Some(quote(last.close, as_of, prev, last.volume))
            })
            .collect())
    }
}

#[async_trait]
impl PriceHistory for FileMarket {
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let symbol = norm(symbol);
        match self.bars.get(&symbol) {
            Some(bars) => Ok(bars
                .iter()
                .filter(|b| b.date >= from && b.date <= to && self.closed(b.date))
                .copied()
                .collect()),
            None if self.known(&symbol) => Ok(Vec::new()),
            None => Err(MarketError::UnknownSymbol(symbol)),
        }
    }
}

#[async_trait]
impl EarningsCalendar for FileMarket {
    async fn calendar(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, MarketError> {
        Ok(self
            .calendar
            .iter()
            .filter(|r| r.event.date >= from && r.event.date <= to)
            .cloned()
            .collect())
    }

    async fn past_reports(&self, symbol: &str) -> Result<Vec<EarningsEvent>, MarketError> {
        let symbol = norm(symbol);
        let today = self.today.unwrap_or_else(|| Utc::now().date_naive());
        Ok(self
            .calendar
            .iter()
            .filter(|r| r.ticker == symbol && r.event.date < today)
            .map(|r| r.event)
            .collect())
    }
}
