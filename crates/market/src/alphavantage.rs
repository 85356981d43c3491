//! Alpha Vantage (`/query?function=…&apikey=…`): the earnings calendar (CSV), past reports
//! (EARNINGS JSON) and daily bars (TIME_SERIES_DAILY), spoken as `spec/vendors.md` §2 says.
//!
//! Every answer is HTTP 200, so bodies are classified by [`classify_body`]. The key travels in
//! the query string: errors are built without URLs and vendor messages are redacted, so the
//! key never reaches an error or a log line.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Days, NaiveDate, Utc};
use ivcrush_core::{Bar, EarningsEvent, Timing};
use ivcrush_resilience::{HttpClassifier, Pipeline, PipelineConfig, WindowConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::{debug, instrument, warn};

use crate::error::MarketError;
use crate::http::{self, HttpSettings, flex_f64, flex_u64};
use crate::source::{EarningsCalendar, EarningsRecord, PriceHistory};

const VENDOR: &str = "alphavantage";

/// Production host.
pub const PRODUCTION_URL: &str = "https://www.alphavantage.co";

/// Alpha Vantage client settings (`[market.alphavantage]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlphaVantageConfig {
    /// Base URL. Default `https://www.alphavantage.co`.
    pub base_url: String,
    /// API key (query parameter `apikey`; never logged, redacted from vendor messages).
    #[serde(serialize_with = "crate::secret::serialize_redacted")]
    pub api_key: SecretString,
    /// `compact` (default, 100 bars) or `full` (premium; falls back to `compact` with a warning).
    pub outputsize: String,
    /// HTTP client settings.
    pub http: HttpSettings,
    /// Resilience pipeline; default: 5 requests per 60 s (burst 5) and 25 per day (burst 25;
    /// GCRA refills one a day after a full burst, never more than 25 in any 24 h).
    pub resilience: PipelineConfig,
}

impl Default for AlphaVantageConfig {
    fn default() -> Self {
        AlphaVantageConfig {
            base_url: PRODUCTION_URL.to_owned(),
            api_key: SecretString::from(String::new()),
            outputsize: "compact".to_owned(),
            http: HttpSettings::default(),
            resilience: AlphaVantageConfig::free_plan_resilience(),
        }
    }
}

impl AlphaVantageConfig {
    /// The free plan's pipeline ([`http::vendor_pipeline`]): 5 requests a minute and 25 a day,
    /// jitter from 250 ms; attempts cut at 3 s (its answers are small: a CSV calendar, a JSON
    /// list of reports).
    pub fn free_plan_resilience() -> PipelineConfig {
        let mut p = http::vendor_pipeline(
            vec![
                WindowConfig::new(5, Duration::from_secs(60)).with_burst(5),
                WindowConfig::new(25, Duration::from_secs(86_400)).with_burst(25),
            ],
            250,
        );
        p.attempt_timeout_ms = 3_000;
        p
    }

    /// Free-plan settings with this key.
    pub fn new(api_key: impl Into<String>) -> AlphaVantageConfig {
        AlphaVantageConfig {
            api_key: SecretString::from(api_key.into()),
            ..AlphaVantageConfig::default()
        }
    }
}

/// Alpha Vantage client. Implements [`EarningsCalendar`] and [`PriceHistory`].
pub struct AlphaVantageClient {
    http: reqwest::Client,
    base_url: String,
    key: String,
    outputsize: String,
    /// [`HttpSettings::max_body_bytes`].
    max_body_bytes: u64,
    pipeline: Arc<Pipeline<HttpClassifier>>,
}

impl fmt::Debug for AlphaVantageClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlphaVantageClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Time until the next UTC midnight (when the daily quota resets).
fn until_utc_midnight() -> Option<Duration> {
    let now = Utc::now();
    let next = now.date_naive().checked_add_days(Days::new(1))?;
    let at = next.and_hms_opt(0, 0, 0)?.and_utc();
    (at - now).to_std().ok()
}

/// Classifies an Alpha Vantage body (all HTTP 200): `None` for data (or a non-JSON body),
/// else the typed error, with `api_key` redacted from the message:
/// - `Error Message` → [`MarketError::BadRequest`] (permanent);
/// - daily-limit text (`Information` or `Note`) → [`MarketError::RateLimited`] until the next
///   UTC midnight; other `Note` → [`MarketError::RateLimited`] in 60 s;
/// - demo-key `Information` → [`MarketError::Config`];
/// - premium / `outputsize=full` `Information` → [`MarketError::PlanLimit`];
/// - any other `Information` → [`MarketError::BadRequest`].
pub fn classify_body(body: &str, api_key: &str) -> Option<MarketError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(trimmed).ok()?;
    let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let redact = |m: String| http::redact(&m, api_key);
    if let Some(m) = text("Error Message") {
        return Some(MarketError::BadRequest {
            vendor: VENDOR,
            message: redact(m),
        });
    }
    let note = text("Note");
    let info = text("Information");
    if let Some(m) = note.as_ref().or(info.as_ref()) {
        let lower = m.to_ascii_lowercase();
        if lower.contains("per day") && (lower.contains("rate limit") || lower.contains("requests"))
        {
            return Some(MarketError::RateLimited {
                vendor: VENDOR,
                retry_in: until_utc_midnight(),
            });
        }
    }
    if note.is_some() {
        return Some(MarketError::RateLimited {
            vendor: VENDOR,
            retry_in: Some(Duration::from_secs(60)),
        });
    }
    let m = info?;
    let lower = m.to_ascii_lowercase();
    Some(if lower.contains("demo") && lower.contains("api key") {
        MarketError::Config(format!("alphavantage: {}", redact(m)))
    } else if lower.contains("premium") {
        MarketError::PlanLimit {
            vendor: VENDOR,
            message: redact(m),
        }
    } else {
        MarketError::BadRequest {
            vendor: VENDOR,
            message: redact(m),
        }
    })
}

fn decode_err(endpoint: &'static str, message: impl fmt::Display) -> MarketError {
    MarketError::Decode {
        vendor: VENDOR,
        endpoint,
        message: message.to_string(),
    }
}

/// One row of the earnings calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalendarRow {
    /// Ticker.
    pub symbol: String,
    /// Company name.
    pub name: Option<String>,
    /// Report date.
    pub report_date: NaiveDate,
    /// Fiscal period end.
    pub fiscal_date_ending: Option<NaiveDate>,
    /// EPS estimate (empty/None → `None`).
    pub estimate: Option<f64>,
    /// Currency.
    pub currency: Option<String>,
    /// `pre-market` → BMO, `post-market` → AMC, else UNKNOWN.
    pub timing: Timing,
}

impl CalendarRow {
    /// As a calendar record.
    pub fn to_record(&self) -> EarningsRecord {
        EarningsRecord {
            ticker: self.symbol.clone(),
            name: self.name.clone(),
            event: EarningsEvent {
                date: self.report_date,
                timing: self.timing,
            },
        }
    }
}

/// Parses the EARNINGS_CALENDAR CSV (CRLF, RFC-4180 quoting, columns located by header name).
/// Rows come back as sent (unsorted, duplicates kept); unparsable rows are skipped with a
/// warning. A header-only body gives no rows. A JSON body is classified ([`classify_body`]).
///
/// # Errors
/// The classified message of a JSON body, or [`MarketError::Decode`] when required columns
/// are missing.
pub fn parse_calendar_csv(body: &str) -> Result<Vec<CalendarRow>, MarketError> {
    if let Some(e) = classify_body(body, "") {
        return Err(e);
    }
    if body.trim_start().starts_with('{') {
        return Err(decode_err(
            "EARNINGS_CALENDAR",
            "JSON body where CSV was expected",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| decode_err("EARNINGS_CALENDAR", e))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(c_symbol), Some(c_date)) = (col("symbol"), col("reportDate")) else {
        return Err(decode_err(
            "EARNINGS_CALENDAR",
            "missing symbol or reportDate column",
        ));
    };
    let (c_name, c_fiscal, c_est, c_cur, c_time) = (
        col("name"),
        col("fiscalDateEnding"),
        col("estimate"),
        col("currency"),
        col("timeOfTheDay"),
    );
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                warn!(
                    vendor = VENDOR,
                    error = &e as &dyn std::error::Error,
                    "calendar row skipped"
                );
                continue;
            }
        };
        let get = |c: Option<usize>| {
            c.and_then(|i| record.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let Some(symbol) = get(Some(c_symbol)) else {
            continue;
        };
        let Some(report_date) = get(Some(c_date)).and_then(|d| d.parse().ok()) else {
            warn!(
                vendor = VENDOR,
                symbol, "calendar row without a valid reportDate skipped"
            );
            continue;
        };
        rows.push(CalendarRow {
            symbol,
            name: get(c_name),
            report_date,
            fiscal_date_ending: get(c_fiscal).and_then(|d| d.parse().ok()),
            estimate: get(c_est).and_then(|e| http::parse_flex(&e).ok().flatten()),
            currency: get(c_cur),
            timing: get(c_time)
                .map(|t| t.parse().unwrap_or_default())
                .unwrap_or_default(),
        });
    }
    Ok(rows)
}

#[derive(Deserialize)]
struct EarningsBody {
    #[serde(default, rename = "quarterlyEarnings")]
    quarterly: Vec<RawQuarter>,
}

#[derive(Deserialize)]
struct RawQuarter {
    #[serde(default, rename = "reportedDate")]
    reported_date: Option<String>,
    #[serde(default, rename = "reportTime")]
    report_time: Option<String>,
}

/// Parses the EARNINGS JSON into report events, oldest first (rows with `"None"` or no
/// `reportedDate` are dropped; absent `reportTime` → UNKNOWN; `{}` → none).
///
/// # Errors
/// The classified message of an error body, or [`MarketError::Decode`].
pub fn parse_earnings(body: &str) -> Result<Vec<EarningsEvent>, MarketError> {
    if let Some(e) = classify_body(body, "") {
        return Err(e);
    }
    let parsed: EarningsBody = serde_json::from_str(body).map_err(|e| decode_err("EARNINGS", e))?;
    let mut events: Vec<EarningsEvent> = parsed
        .quarterly
        .into_iter()
        .filter_map(|q| {
            let date = q.reported_date?.parse().ok()?;
            let timing = q
                .report_time
                .map(|t| t.parse().unwrap_or_default())
                .unwrap_or_default();
            Some(EarningsEvent { date, timing })
        })
        .collect();
    events.sort_by_key(|e| e.date);
    events.dedup_by_key(|e| e.date);
    Ok(events)
}

#[derive(Deserialize)]
struct RawDailyBar {
    #[serde(default, rename = "1. open", deserialize_with = "flex_f64")]
    open: Option<f64>,
    #[serde(default, rename = "2. high", deserialize_with = "flex_f64")]
    high: Option<f64>,
    #[serde(default, rename = "3. low", deserialize_with = "flex_f64")]
    low: Option<f64>,
    #[serde(default, rename = "4. close", deserialize_with = "flex_f64")]
    close: Option<f64>,
    #[serde(default, rename = "5. volume", deserialize_with = "flex_u64")]
    volume: Option<u64>,
    #[serde(default, rename = "6. volume", deserialize_with = "flex_u64")]
    adjusted_volume: Option<u64>,
}

#[derive(Deserialize)]
struct DailyBody {
    #[serde(rename = "Time Series (Daily)")]
    series: Option<BTreeMap<NaiveDate, RawDailyBar>>,
}

/// Parses TIME_SERIES_DAILY (or the ADJUSTED variant: volume at key 6; prices unadjusted) into
/// bars, oldest first.
///
/// # Errors
/// The classified message of an error body, or [`MarketError::Decode`].
pub fn parse_daily(body: &str) -> Result<Vec<Bar>, MarketError> {
    if let Some(e) = classify_body(body, "") {
        return Err(e);
    }
    let parsed: DailyBody =
        serde_json::from_str(body).map_err(|e| decode_err("TIME_SERIES_DAILY", e))?;
    // A BTreeMap keyed by date is already sorted, oldest first.
    Ok(parsed
        .series
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(date, b)| {
            Some(Bar {
                date,
                open: b.open?,
                high: b.high?,
                low: b.low?,
                close: b.close?,
                volume: b.volume.or(b.adjusted_volume).unwrap_or(0),
            })
        })
        .collect())
}

impl AlphaVantageClient {
    /// Builds the client (pooled HTTP client + pipeline named `alphavantage`).
    ///
    /// # Errors
    /// [`MarketError::Config`] for an empty key or invalid settings.
    pub fn new(config: AlphaVantageConfig) -> Result<AlphaVantageClient, MarketError> {
        if crate::secret::is_blank(&config.api_key) {
            return Err(MarketError::Config(
                "alphavantage: api_key is empty".to_owned(),
            ));
        }
        http::register_vendor_series(
            VENDOR,
            &["EARNINGS_CALENDAR", "EARNINGS", "TIME_SERIES_DAILY"],
        );
        let pipeline = Pipeline::new(VENDOR, &config.resilience, HttpClassifier)
            .map_err(|e| MarketError::Config(format!("alphavantage: {e}")))?;
        Ok(AlphaVantageClient {
            http: http::build_client(VENDOR, &config.http)?,
            max_body_bytes: config.http.max_body_bytes,
            base_url: http::base(&config.base_url),
            key: config.api_key.expose_secret().to_owned(),
            outputsize: config.outputsize,
            pipeline: Arc::new(pipeline),
        })
    }

    /// The resilience pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline<HttpClassifier>> {
        &self.pipeline
    }

    /// One `/query` call through the pipeline; the 200 body is classified inside the attempt
    /// so that rate-limit bodies are retried with their hint and never count as failures.
    async fn query(
        &self,
        function: &'static str,
        params: &[(&str, String)],
    ) -> Result<String, MarketError> {
        let url = format!("{}/query", self.base_url);
        let mut all: Vec<(&str, String)> = vec![("function", function.to_owned())];
        all.extend(params.iter().cloned());
        all.push(("apikey", self.key.clone()));
        let result = self
            .pipeline
            .call(|| {
                let builder = self.http.get(&url).query(&all);
                async move {
                    let mut received =
                        http::send(VENDOR, function, builder, self.max_body_bytes).await?;
                    if let Some(e) = http::error_for_status(
                        VENDOR,
                        received.status,
                        &received.headers,
                        &received.body,
                    ) {
                        return Err(e);
                    }
                    match classify_body(&received.body, &self.key) {
                        Some(e) => {
                            debug!(
                                vendor = VENDOR,
                                function,
                                error = &e as &dyn std::error::Error,
                                "vendor message"
                            );
                            if let MarketError::RateLimited { .. } = e {
                                received.metric.status = Some("429");
                                crate::notes::record(
                                    crate::notes::VendorNoteKind::RateLimited,
                                    VENDOR,
                                    format!("{function}: {e}"),
                                );
                            }
                            Err(e)
                        }
                        None => Ok(received.body),
                    }
                }
            })
            .await;
        result
            .map_err(|e| MarketError::from_resilience(VENDOR, e))
            .map_err(|e| http::redact_error(e, &self.key))
    }

    /// The raw calendar rows for a horizon (`3month|6month|12month`).
    ///
    /// # Errors
    /// Transport, classified-body or decode errors.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    pub async fn calendar_rows(&self, horizon: &str) -> Result<Vec<CalendarRow>, MarketError> {
        let body = self
            .query("EARNINGS_CALENDAR", &[("horizon", horizon.to_owned())])
            .await?;
        parse_calendar_csv(&body).map_err(|e| http::redact_error(e, &self.key))
    }
}

#[async_trait]
impl EarningsCalendar for AlphaVantageClient {
    /// One EARNINGS_CALENDAR request with the shortest horizon covering `to`; rows filtered to
    /// `from..=to`, sorted by date then ticker, exact duplicates removed.
    async fn calendar(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, MarketError> {
        let days = (to - Utc::now().date_naive()).num_days();
        let horizon = match days {
            ..=90 => "3month",
            91..=180 => "6month",
            _ => "12month",
        };
        let mut records: Vec<EarningsRecord> = self
            .calendar_rows(horizon)
            .await?
            .iter()
            .filter(|r| r.report_date >= from && r.report_date <= to)
            .map(CalendarRow::to_record)
            .collect();
        records.sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
        records.dedup_by(|a, b| a.ticker == b.ticker && a.event == b.event);
        Ok(records)
    }

    #[instrument(skip(self), fields(vendor = VENDOR))]
    async fn past_reports(&self, symbol: &str) -> Result<Vec<EarningsEvent>, MarketError> {
        let body = self
            .query("EARNINGS", &[("symbol", symbol.to_owned())])
            .await?;
        let today = Utc::now().date_naive();
        let mut events = parse_earnings(&body).map_err(|e| http::redact_error(e, &self.key))?;
        events.retain(|e| e.date < today);
        Ok(events)
    }
}

#[async_trait]
impl PriceHistory for AlphaVantageClient {
    /// TIME_SERIES_DAILY with the configured `outputsize`; a premium refusal of `full` falls
    /// back to `compact` (100 bars) with a warning.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let params = |size: &str| {
            [
                ("symbol", symbol.to_owned()),
                ("outputsize", size.to_owned()),
            ]
        };
        let body = match self
            .query("TIME_SERIES_DAILY", &params(&self.outputsize))
            .await
        {
            Err(MarketError::PlanLimit { message, .. }) if self.outputsize != "compact" => {
                warn!(vendor = VENDOR, %message, "outputsize refused by the plan; falling back to compact (100 bars)");
                crate::notes::record(
                    crate::notes::VendorNoteKind::PremiumGated,
                    VENDOR,
                    format!(
                        "TIME_SERIES_DAILY outputsize={} needs a premium plan: the last 100 \
                         sessions (compact) were used",
                        self.outputsize
                    ),
                );
                self.query("TIME_SERIES_DAILY", &params("compact")).await?
            }
            other => other?,
        };
        let mut bars = parse_daily(&body).map_err(|e| http::redact_error(e, &self.key))?;
        bars.retain(|b| b.date >= from && b.date <= to);
        Ok(bars)
    }
}
