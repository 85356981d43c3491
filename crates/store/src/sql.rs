//! SQL shared by both backends and the macro that implements [`Store`](crate::Store) for each.
//!
//! Both dialects accept `$N` placeholders, `ON CONFLICT … DO UPDATE` with `excluded`, and
//! `RETURNING`, so one set of statements serves SQLite and PostgreSQL; the schemas differ
//! (TEXT dates vs DATE/TIMESTAMPTZ, TEXT vs JSONB) and live in `migrations/<dialect>/`.
//! The implementation is a macro rather than code generic over `sqlx::Database` because the
//! trait bounds of a generic version (per type, per executor) would outweigh the code.

pub(crate) const PING_READ: &str = "SELECT 1";

pub(crate) const UPSERT_TICKERS: &str =
    "INSERT INTO tickers (symbol, name, sector, created_at, updated_at) ";
pub(crate) const UPSERT_TICKERS_CONFLICT: &str = " ON CONFLICT (symbol) DO UPDATE SET name = COALESCE(excluded.name, tickers.name), \
     sector = COALESCE(excluded.sector, tickers.sector), updated_at = excluded.updated_at";
pub(crate) const ENSURE_TICKERS: &str = "INSERT INTO tickers (symbol, created_at, updated_at) ";
pub(crate) const ENSURE_TICKERS_CONFLICT: &str = " ON CONFLICT (symbol) DO NOTHING";
pub(crate) const SELECT_TICKERS: &str = "SELECT symbol, name, sector FROM tickers ORDER BY symbol";

pub(crate) const UPSERT_EVENTS: &str = "INSERT INTO earnings_events \
     (ticker, report_date, timing, source, fiscal_date_ending, updated_at) ";
pub(crate) const UPSERT_EVENTS_CONFLICT: &str = " ON CONFLICT (ticker, report_date) DO UPDATE SET timing = excluded.timing, \
     source = excluded.source, \
     fiscal_date_ending = COALESCE(excluded.fiscal_date_ending, earnings_events.fiscal_date_ending), \
     updated_at = excluded.updated_at";
pub(crate) const EVENTS_BETWEEN: &str = "SELECT ticker, report_date, timing, source, fiscal_date_ending \
     FROM earnings_events WHERE report_date >= $1 AND report_date <= $2 \
     ORDER BY report_date, ticker";
pub(crate) const DELETE_EVENT: &str =
    "DELETE FROM earnings_events WHERE ticker = $1 AND report_date = $2";
pub(crate) const EVENTS_FOR: &str = "SELECT ticker, report_date, timing, source, fiscal_date_ending \
     FROM earnings_events WHERE ticker = $1 ORDER BY report_date";

pub(crate) const UPSERT_BARS: &str = "INSERT INTO daily_bars \
     (ticker, date, open, high, low, close, volume, source) ";
pub(crate) const UPSERT_BARS_CONFLICT: &str = " ON CONFLICT (ticker, date) DO UPDATE SET open = excluded.open, high = excluded.high, \
     low = excluded.low, close = excluded.close, volume = excluded.volume, source = excluded.source";
pub(crate) const SELECT_BARS: &str = "SELECT date, open, high, low, close, volume FROM daily_bars \
     WHERE ticker = $1 AND date >= $2 AND date <= $3 ORDER BY date";
pub(crate) const LATEST_BAR_DATE: &str =
    "SELECT date FROM daily_bars WHERE ticker = $1 ORDER BY date DESC LIMIT 1";

pub(crate) const UPSERT_MOVES: &str = "INSERT INTO historical_moves \
     (ticker, report_date, timing, reaction_date, reference_close, close_move_pct, \
      gap_move_pct, intraday_move_pct, signed_close_pct) ";
pub(crate) const UPSERT_MOVES_CONFLICT: &str = " ON CONFLICT (ticker, report_date) DO UPDATE SET timing = excluded.timing, \
     reaction_date = excluded.reaction_date, reference_close = excluded.reference_close, \
     close_move_pct = excluded.close_move_pct, gap_move_pct = excluded.gap_move_pct, \
     intraday_move_pct = excluded.intraday_move_pct, signed_close_pct = excluded.signed_close_pct";
pub(crate) const DELETE_MOVES: &str = "DELETE FROM historical_moves WHERE ticker = $1";
pub(crate) const SELECT_MOVES: &str = "SELECT report_date, timing, reaction_date, reference_close, \
     close_move_pct, gap_move_pct, intraday_move_pct, signed_close_pct \
     FROM historical_moves WHERE ticker = $1 ORDER BY report_date";

pub(crate) const INSERT_ANALYSIS: &str = "INSERT INTO analyses \
     (run_id, ticker, as_of, earnings_date, expiration, score, vrp_ratio, vrp_tier, \
      liquidity_tier, tradeable, error, record, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (run_id, ticker) DO UPDATE SET as_of = excluded.as_of, \
     earnings_date = excluded.earnings_date, expiration = excluded.expiration, \
     score = excluded.score, vrp_ratio = excluded.vrp_ratio, vrp_tier = excluded.vrp_tier, \
     liquidity_tier = excluded.liquidity_tier, tradeable = excluded.tradeable, \
     error = excluded.error, record = excluded.record, created_at = excluded.created_at \
     RETURNING id";
pub(crate) const LATEST_SCORES: &str = "SELECT ticker, run_id, score, vrp_tier, as_of, \
     earnings_date, expiration, created_at FROM analyses \
     WHERE created_at >= $1 AND run_id <> $2 AND score IS NOT NULL AND vrp_tier IS NOT NULL \
     ORDER BY created_at DESC, id DESC LIMIT $3";
pub(crate) const COUNT_ANALYSES_FOR_RUN: &str =
    "SELECT COUNT(*) AS n FROM analyses WHERE run_id = $1";
pub(crate) const LATEST_ANALYSES: &str = "SELECT id, run_id, ticker, as_of, earnings_date, \
     expiration, score, vrp_ratio, vrp_tier, liquidity_tier, tradeable, error, record, created_at \
     FROM analyses \
     WHERE ($1 IS NULL OR score >= $1) AND ($2 = FALSE OR tradeable = TRUE) \
     AND ($3 IS NULL OR created_at >= $3) AND ($4 = TRUE OR error IS NULL) \
     ORDER BY created_at DESC, id DESC LIMIT $5";
pub(crate) const ANALYSIS_HISTORY: &str = "SELECT id, run_id, ticker, as_of, earnings_date, \
     expiration, score, vrp_ratio, vrp_tier, liquidity_tier, tradeable, error, record, created_at \
     FROM analyses WHERE ticker = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
pub(crate) const ANALYSES_FOR_RUN: &str = "SELECT id, run_id, ticker, as_of, earnings_date, \
     expiration, score, vrp_ratio, vrp_tier, liquidity_tier, tradeable, error, record, created_at \
     FROM analyses WHERE run_id = $1 ORDER BY id";

pub(crate) const CACHE_GET: &str =
    "SELECT value, fetched_at, expires_at FROM cache_entries WHERE key = $1";
pub(crate) const CACHE_PUT: &str = "INSERT INTO cache_entries (key, value, fetched_at, expires_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
     fetched_at = excluded.fetched_at, expires_at = excluded.expires_at";
pub(crate) const CACHE_PURGE: &str = "DELETE FROM cache_entries WHERE expires_at < $1";

/// Moving `completed_through` forward forgets the coverage start: the range between the old
/// and the new date is not known to be covered by the same contiguous run.
pub(crate) const MARK_PROGRESS: &str = "INSERT INTO backfill_progress \
     (ticker, kind, completed_through, covered_from, updated_at) VALUES ($1, $2, $3, NULL, $4) \
     ON CONFLICT (ticker, kind) DO UPDATE SET completed_through = excluded.completed_through, \
     covered_from = NULL, updated_at = excluded.updated_at \
     WHERE excluded.completed_through > backfill_progress.completed_through";
pub(crate) const SET_COVERAGE: &str = "INSERT INTO backfill_progress \
     (ticker, kind, completed_through, covered_from, updated_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (ticker, kind) DO UPDATE SET completed_through = excluded.completed_through, \
     covered_from = excluded.covered_from, updated_at = excluded.updated_at";
pub(crate) const GET_PROGRESS: &str = "SELECT ticker, kind, completed_through, covered_from, \
     updated_at FROM backfill_progress WHERE ticker = $1 AND kind = $2";

pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version, description, success FROM _sqlx_migrations ORDER BY version";
pub(crate) const INSERT_ALERT: &str = "INSERT INTO alerts \
     (key, kind, ticker, message, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (key) DO NOTHING RETURNING id";
/// The columns of an alert row (a macro: `concat!` builds the statements at compile time).
macro_rules! alert_columns {
    () => {
        "a.id, a.key, a.kind, a.ticker, a.message, a.detail, a.created_at, \
         (SELECT COUNT(*) FROM alert_deliveries d WHERE d.alert_id = a.id \
          AND d.status = 'delivered') AS delivered"
    };
}
pub(crate) const ALERTS_SINCE: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts a WHERE a.created_at >= $1 ORDER BY a.id DESC LIMIT $2"
);
pub(crate) const UNDELIVERED_ALERTS: &str = concat!(
    "SELECT ",
    alert_columns!(),
    " FROM alerts a WHERE a.created_at >= $1 AND NOT EXISTS \
     (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id AND d.endpoint = $2 \
      AND (d.status <> 'sending' OR d.updated_at >= $4)) \
     ORDER BY a.id LIMIT $3"
);
/// A claim is taken when there is none, or when the one there is a `sending` claim older than
/// `$4` (its process died or was cut off mid-delivery: the delivery is retried, with the same
/// idempotency key).
pub(crate) const CLAIM_DELIVERY: &str = "INSERT INTO alert_deliveries \
     (alert_id, endpoint, status, attempts, last_error, updated_at) \
     VALUES ($1, $2, 'sending', 0, NULL, $3) \
     ON CONFLICT (alert_id, endpoint) DO UPDATE SET updated_at = excluded.updated_at \
     WHERE alert_deliveries.status = 'sending' AND alert_deliveries.updated_at < $4 \
     RETURNING alert_id";
pub(crate) const RELEASE_DELIVERY: &str = "DELETE FROM alert_deliveries \
     WHERE alert_id = $1 AND endpoint = $2 AND status = 'sending'";
pub(crate) const FINISH_DELIVERY: &str = "UPDATE alert_deliveries SET status = $3, attempts = $4, \
     last_error = $5, updated_at = $6 WHERE alert_id = $1 AND endpoint = $2";

/// The migrator's bookkeeping table.
pub(crate) const MIGRATIONS_TABLE: &str = "_sqlx_migrations";
pub(crate) const PRUNE_ANALYSES: &str = "DELETE FROM analyses WHERE created_at < $1";
pub(crate) const PRUNE_CACHE: &str = "DELETE FROM cache_entries WHERE expires_at < $1";

/// Parses a stored timing exactly (`BMO`, `AMC`, `UNKNOWN`).
pub(crate) fn parse_timing(s: &str) -> Option<ivcrush_core::Timing> {
    use ivcrush_core::Timing;
    match s {
        "BMO" => Some(Timing::Bmo),
        "AMC" => Some(Timing::Amc),
        "UNKNOWN" => Some(Timing::Unknown),
        _ => None,
    }
}

/// How [`Store`](crate::Store) writes a ticker's historical moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MoveWrite {
    /// Insert or update by report date; keep other report dates.
    Upsert,
    /// Delete the ticker's moves first (in the same transaction).
    Replace,
}

/// Error for a timing column holding something else.
#[derive(Debug, thiserror::Error)]
#[error("unknown timing {0:?}")]
pub(crate) struct BadTiming(pub String);

/// Rows per multi-row INSERT: far below the bind limits of both backends (SQLite 32,766
/// variables, PostgreSQL 65,535) at nine columns.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// The last row of each key, in first-seen order: one multi-row `INSERT … ON CONFLICT DO
/// UPDATE` may not touch a row twice (PostgreSQL rejects it), and the last value wins as it
/// did row by row.
pub(crate) fn last_per_key<'a, T, K: std::hash::Hash + Eq>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut at = std::collections::HashMap::with_capacity(rows.len());
    let mut out: Vec<&T> = Vec::with_capacity(rows.len());
    for r in rows {
        match at.entry(key(r)) {
            std::collections::hash_map::Entry::Occupied(e) => out[*e.get()] = r,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(r);
            }
        }
    }
    out
}

/// `first..=last` of the rows of one statement, naming them in an error.
pub(crate) fn span<T, D: std::fmt::Display>(rows: &[T], key: impl Fn(&T) -> D) -> String {
    match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => format!("{}..={}", key(a), key(b)),
        _ => "(none)".to_string(),
    }
}

/// Error for a negative volume column.
#[derive(Debug, thiserror::Error)]
#[error("negative volume {0}")]
pub(crate) struct BadVolume(pub i64);

/// Implements [`Store`](crate::Store) for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_store {
    ($store:ty, $db:ty, $row:ty, $backend:expr) => {
        use chrono::{DateTime, NaiveDate, Utc};
        use ivcrush_core::Bar;
        use ivcrush_core::moves::HistoricalMove;
        use ivcrush_core::{Analysis, Pct};
        use sqlx::Row as _;
        use $crate::error::StoreError;
        use $crate::model::{
            AlertRow, AnalysisFilter, Backend, CacheEntry, DeliveryOutcome, EarningsRow, NewAlert,
            NewAnalysis, Progress, ScoreRow, StoredAnalysis, TickerRow,
        };
        use $crate::sql::{self as q, BadTiming, BadVolume, parse_timing};

        fn get<T>(
            row: &$row,
            col: &'static str,
            table: &'static str,
            key: &str,
        ) -> Result<T, StoreError>
        where
            T: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db>,
        {
            row.try_get::<T, _>(col)
                .map_err(|e| StoreError::decode(table, format!("{key}, column {col}"), e))
        }

        fn alert_from_row(r: &$row) -> Result<AlertRow, StoreError> {
            const T: &str = "alerts";
            let id: i64 = get(r, "id", T, "alert")?;
            let key = format!("alert {id}");
            let delivered: i64 = get(r, "delivered", T, &key)?;
            Ok(AlertRow {
                id,
                alert: NewAlert {
                    key: get(r, "key", T, &key)?,
                    kind: get(r, "kind", T, &key)?,
                    ticker: get(r, "ticker", T, &key)?,
                    message: get(r, "message", T, &key)?,
                    detail: get(r, "detail", T, &key)?,
                    created_at: get(r, "created_at", T, &key)?,
                },
                delivered: u32::try_from(delivered).unwrap_or(0),
            })
        }

        fn timing_col(
            row: &$row,
            table: &'static str,
            key: &str,
        ) -> Result<ivcrush_core::Timing, StoreError> {
            let s: String = get(row, "timing", table, key)?;
            parse_timing(&s).ok_or_else(|| StoreError::decode(table, key.to_string(), BadTiming(s)))
        }

        fn volume_to_db(ticker: &str, bar: &Bar) -> Result<i64, StoreError> {
            i64::try_from(bar.volume).map_err(|_| StoreError::InvalidInput {
                what: "volume",
                reason: format!(
                    "{} on {} for {ticker} exceeds i64::MAX",
                    bar.volume, bar.date
                ),
            })
        }

        fn event_from_row(row: &$row) -> Result<EarningsRow, StoreError> {
            const T: &str = "earnings_events";
            let ticker: String = get(row, "ticker", T, "?")?;
            let report_date: NaiveDate = get(row, "report_date", T, &ticker)?;
            let key = format!("{ticker} {report_date}");
            Ok(EarningsRow {
                timing: timing_col(row, T, &key)?,
                source: get(row, "source", T, &key)?,
                fiscal_date_ending: get(row, "fiscal_date_ending", T, &key)?,
                ticker,
                report_date,
            })
        }

        fn bar_from_row(row: &$row, ticker: &str) -> Result<Bar, StoreError> {
            const T: &str = "daily_bars";
            let date: NaiveDate = get(row, "date", T, ticker)?;
            let key = format!("{ticker} {date}");
            let volume: i64 = get(row, "volume", T, &key)?;
            Ok(Bar {
                date,
                open: get(row, "open", T, &key)?,
                high: get(row, "high", T, &key)?,
                low: get(row, "low", T, &key)?,
                close: get(row, "close", T, &key)?,
                volume: u64::try_from(volume)
                    .map_err(|_| StoreError::decode(T, key.clone(), BadVolume(volume)))?,
            })
        }

        fn move_from_row(row: &$row, ticker: &str) -> Result<HistoricalMove, StoreError> {
            const T: &str = "historical_moves";
            let report_date: NaiveDate = get(row, "report_date", T, ticker)?;
            let key = format!("{ticker} {report_date}");
            let pct = |col: &'static str| -> Result<Pct, StoreError> {
                Pct::new(get(row, col, T, &key)?)
                    .map_err(|e| StoreError::decode(T, format!("{key}, column {col}"), e))
            };
            Ok(HistoricalMove {
                report_date,
                timing: timing_col(row, T, &key)?,
                reaction_date: get(row, "reaction_date", T, &key)?,
                reference_close: get(row, "reference_close", T, &key)?,
                close_move_pct: pct("close_move_pct")?,
                gap_move_pct: pct("gap_move_pct")?,
                intraday_move_pct: pct("intraday_move_pct")?,
                signed_close_pct: pct("signed_close_pct")?,
            })
        }

        fn analysis_from_row(row: &$row) -> Result<StoredAnalysis, StoreError> {
            const T: &str = "analyses";
            let id: i64 = get(row, "id", T, "?")?;
            let key = format!("id {id}");
            let record: Option<sqlx::types::Json<serde_json::Value>> = get(row, "record", T, &key)?;
            let record = match record {
                Some(json) => Some(
                    serde_json::from_value::<Analysis>(json.0)
                        .map_err(|e| StoreError::decode(T, format!("{key}, column record"), e))?,
                ),
                None => None,
            };
            Ok(StoredAnalysis {
                id,
                run_id: get(row, "run_id", T, &key)?,
                ticker: get(row, "ticker", T, &key)?,
                as_of: get(row, "as_of", T, &key)?,
                earnings_date: get(row, "earnings_date", T, &key)?,
                expiration: get(row, "expiration", T, &key)?,
                score: get(row, "score", T, &key)?,
                vrp_ratio: get(row, "vrp_ratio", T, &key)?,
                vrp_tier: get(row, "vrp_tier", T, &key)?,
                liquidity_tier: get(row, "liquidity_tier", T, &key)?,
                tradeable: get(row, "tradeable", T, &key)?,
                error: get(row, "error", T, &key)?,
                record,
                created_at: get(row, "created_at", T, &key)?,
            })
        }

        async fn insert_analysis_in<'e, E>(exec: E, row: &NewAnalysis) -> Result<i64, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let ctx = || format!("run {} ticker {}", row.run_id, row.ticker);
            let query = sqlx::query(q::INSERT_ANALYSIS)
                .bind(&row.run_id)
                .bind(&row.ticker)
                .bind(row.as_of);
            let query = match &row.result {
                Ok(a) => query
                    .bind(Some(a.earnings_date))
                    .bind(Some(a.expiration))
                    .bind(Some(a.score))
                    .bind(Some(a.vrp.ratio))
                    .bind(Some(a.vrp.tier.as_str()))
                    .bind(Some(a.liquidity.tier.as_str()))
                    .bind(a.tradeable)
                    .bind(None::<&str>)
                    .bind(Some(sqlx::types::Json(a))),
                Err(msg) => query
                    .bind(None::<NaiveDate>)
                    .bind(None::<NaiveDate>)
                    .bind(None::<f64>)
                    .bind(None::<f64>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(false)
                    .bind(Some(msg.as_str()))
                    .bind(None::<sqlx::types::Json<&Analysis>>),
            };
            let out = query
                .bind(row.created_at)
                .fetch_one(exec)
                .await
                .map_err(StoreError::query("insert_analysis", ctx()))?;
            get(&out, "id", "analyses", &ctx())
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn try_lead(&self, job: &str) -> Result<Option<$crate::Lead>, StoreError> {
                self.try_lead_here(job).await
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query(q::PING_READ)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query("ping", "SELECT 1"))?;
                match self.read_only_reason().await? {
                    Some(reason) => Err(StoreError::ReadOnly {
                        backend: $backend,
                        reason,
                    }),
                    None => Ok(()),
                }
            }

            async fn upsert_tickers(&self, tickers: &[TickerRow]) -> Result<u64, StoreError> {
                const OP: &str = "upsert_tickers";
                let now = Utc::now();
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(OP, "begin"))?;
                let rows = q::last_per_key(tickers, |t| t.symbol.as_str());
                for chunk in rows.chunks(q::ROWS_PER_INSERT) {
                    sqlx::QueryBuilder::<$db>::new(q::UPSERT_TICKERS)
                        .push_values(chunk, |mut b, t| {
                            b.push_bind(t.symbol.as_str())
                                .push_bind(t.name.as_deref())
                                .push_bind(t.sector.as_deref())
                                .push_bind(now)
                                .push_bind(now);
                        })
                        .push(q::UPSERT_TICKERS_CONFLICT)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(
                            OP,
                            format!("tickers {}", q::span(chunk, |t| &t.symbol)),
                        ))?;
                }
                tx.commit().await.map_err(StoreError::query(OP, "commit"))?;
                Ok(tickers.len() as u64)
            }

            async fn tickers(&self) -> Result<Vec<TickerRow>, StoreError> {
                let rows = sqlx::query(q::SELECT_TICKERS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query("tickers", "all"))?;
                rows.iter()
                    .map(|r| {
                        let symbol: String = get(r, "symbol", "tickers", "?")?;
                        Ok(TickerRow {
                            name: get(r, "name", "tickers", &symbol)?,
                            sector: get(r, "sector", "tickers", &symbol)?,
                            symbol,
                        })
                    })
                    .collect()
            }

            async fn upsert_earnings_events(
                &self,
                events: &[EarningsRow],
            ) -> Result<u64, StoreError> {
                const OP: &str = "upsert_earnings_events";
                let now = Utc::now();
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(OP, "begin"))?;
                let mut tickers: Vec<&str> = events.iter().map(|e| e.ticker.as_str()).collect();
                tickers.sort_unstable();
                tickers.dedup();
                for chunk in tickers.chunks(q::ROWS_PER_INSERT) {
                    sqlx::QueryBuilder::<$db>::new(q::ENSURE_TICKERS)
                        .push_values(chunk, |mut b, t| {
                            b.push_bind(*t).push_bind(now).push_bind(now);
                        })
                        .push(q::ENSURE_TICKERS_CONFLICT)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(OP, format!("{} tickers", chunk.len())))?;
                }
                let rows = q::last_per_key(events, |e| (e.ticker.as_str(), e.report_date));
                for chunk in rows.chunks(q::ROWS_PER_INSERT) {
                    sqlx::QueryBuilder::<$db>::new(q::UPSERT_EVENTS)
                        .push_values(chunk, |mut b, e| {
                            b.push_bind(e.ticker.as_str())
                                .push_bind(e.report_date)
                                .push_bind(e.timing.as_str())
                                .push_bind(e.source.as_str())
                                .push_bind(e.fiscal_date_ending)
                                .push_bind(now);
                        })
                        .push(q::UPSERT_EVENTS_CONFLICT)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(
                            OP,
                            format!(
                                "reports {}",
                                q::span(chunk, |e| format!("{} {}", e.ticker, e.report_date))
                            ),
                        ))?;
                }
                tx.commit().await.map_err(StoreError::query(OP, "commit"))?;
                Ok(events.len() as u64)
            }

            async fn earnings_between(
                &self,
                from: NaiveDate,
                to: NaiveDate,
            ) -> Result<Vec<EarningsRow>, StoreError> {
                let rows = sqlx::query(q::EVENTS_BETWEEN)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "earnings_between",
                        format!("{from}..={to}"),
                    ))?;
                rows.iter().map(event_from_row).collect()
            }

            async fn earnings_for(&self, ticker: &str) -> Result<Vec<EarningsRow>, StoreError> {
                let rows = sqlx::query(q::EVENTS_FOR)
                    .bind(ticker)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "earnings_for",
                        format!("ticker {ticker}"),
                    ))?;
                rows.iter().map(event_from_row).collect()
            }

            async fn upsert_bars(
                &self,
                ticker: &str,
                bars: &[Bar],
                source: &str,
            ) -> Result<u64, StoreError> {
                const OP: &str = "upsert_bars";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(OP, "begin"))?;
                let rows = q::last_per_key(bars, |b| b.date)
                    .into_iter()
                    .map(|b| Ok((b, volume_to_db(ticker, b)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                for chunk in rows.chunks(q::ROWS_PER_INSERT) {
                    sqlx::QueryBuilder::<$db>::new(q::UPSERT_BARS)
                        .push_values(chunk, |mut q, (b, volume)| {
                            q.push_bind(ticker)
                                .push_bind(b.date)
                                .push_bind(b.open)
                                .push_bind(b.high)
                                .push_bind(b.low)
                                .push_bind(b.close)
                                .push_bind(*volume)
                                .push_bind(source);
                        })
                        .push(q::UPSERT_BARS_CONFLICT)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(
                            OP,
                            format!("ticker {ticker} bars {}", q::span(chunk, |(b, _)| b.date)),
                        ))?;
                }
                tx.commit().await.map_err(StoreError::query(OP, "commit"))?;
                Ok(bars.len() as u64)
            }

            async fn bars(
                &self,
                ticker: &str,
                from: NaiveDate,
                to: NaiveDate,
            ) -> Result<Vec<Bar>, StoreError> {
                let rows = sqlx::query(q::SELECT_BARS)
                    .bind(ticker)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query("bars", format!("ticker {ticker}")))?;
                rows.iter().map(|r| bar_from_row(r, ticker)).collect()
            }

            async fn latest_bar_date(&self, ticker: &str) -> Result<Option<NaiveDate>, StoreError> {
                let row = sqlx::query(q::LATEST_BAR_DATE)
                    .bind(ticker)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "latest_bar_date",
                        format!("ticker {ticker}"),
                    ))?;
                row.map(|r| get(&r, "date", "daily_bars", ticker))
                    .transpose()
            }

            async fn upsert_historical_moves(
                &self,
                ticker: &str,
                moves: &[HistoricalMove],
            ) -> Result<u64, StoreError> {
                self.write_moves(
                    "upsert_historical_moves",
                    ticker,
                    moves,
                    $crate::sql::MoveWrite::Upsert,
                )
                .await
            }

            async fn replace_historical_moves(
                &self,
                ticker: &str,
                moves: &[HistoricalMove],
            ) -> Result<u64, StoreError> {
                self.write_moves(
                    "replace_historical_moves",
                    ticker,
                    moves,
                    $crate::sql::MoveWrite::Replace,
                )
                .await
            }

            async fn historical_moves(
                &self,
                ticker: &str,
            ) -> Result<Vec<HistoricalMove>, StoreError> {
                let rows = sqlx::query(q::SELECT_MOVES)
                    .bind(ticker)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "historical_moves",
                        format!("ticker {ticker}"),
                    ))?;
                rows.iter().map(|r| move_from_row(r, ticker)).collect()
            }

            async fn insert_analysis(&self, row: &NewAnalysis) -> Result<i64, StoreError> {
                insert_analysis_in(&self.pool, row).await
            }

            async fn insert_analyses(&self, rows: &[NewAnalysis]) -> Result<Vec<i64>, StoreError> {
                const OP: &str = "insert_analyses";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(OP, "begin"))?;
                let mut ids = Vec::with_capacity(rows.len());
                for r in rows {
                    ids.push(insert_analysis_in(&mut *tx, r).await?);
                }
                tx.commit().await.map_err(StoreError::query(OP, "commit"))?;
                Ok(ids)
            }

            async fn latest_analyses(
                &self,
                filter: &AnalysisFilter,
            ) -> Result<Vec<StoredAnalysis>, StoreError> {
                let rows = sqlx::query(q::LATEST_ANALYSES)
                    .bind(filter.min_score)
                    .bind(filter.tradeable_only)
                    .bind(filter.since)
                    .bind(filter.include_failed)
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query("latest_analyses", format!("{filter:?}")))?;
                rows.iter().map(analysis_from_row).collect()
            }

            async fn analysis_history(
                &self,
                ticker: &str,
                limit: u32,
            ) -> Result<Vec<StoredAnalysis>, StoreError> {
                let rows = sqlx::query(q::ANALYSIS_HISTORY)
                    .bind(ticker)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "analysis_history",
                        format!("ticker {ticker}"),
                    ))?;
                rows.iter().map(analysis_from_row).collect()
            }

            async fn analyses_for_run(
                &self,
                run_id: &str,
            ) -> Result<Vec<StoredAnalysis>, StoreError> {
                let rows = sqlx::query(q::ANALYSES_FOR_RUN)
                    .bind(run_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "analyses_for_run",
                        format!("run {run_id}"),
                    ))?;
                rows.iter().map(analysis_from_row).collect()
            }

            async fn latest_scores(
                &self,
                since: DateTime<Utc>,
                except_run: &str,
                limit: u32,
            ) -> Result<Vec<ScoreRow>, StoreError> {
                const T: &str = "analyses";
                let rows = sqlx::query(q::LATEST_SCORES)
                    .bind(since)
                    .bind(except_run)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query("latest_scores", format!("since {since}")))?;
                rows.iter()
                    .map(|r| {
                        let ticker: String = get(r, "ticker", T, "score")?;
                        Ok(ScoreRow {
                            run_id: get(r, "run_id", T, &ticker)?,
                            score: get(r, "score", T, &ticker)?,
                            vrp_tier: get(r, "vrp_tier", T, &ticker)?,
                            as_of: get(r, "as_of", T, &ticker)?,
                            earnings_date: get(r, "earnings_date", T, &ticker)?,
                            expiration: get(r, "expiration", T, &ticker)?,
                            created_at: get(r, "created_at", T, &ticker)?,
                            ticker,
                        })
                    })
                    .collect()
            }

            async fn count_analyses_for_run(&self, run_id: &str) -> Result<u64, StoreError> {
                let row = sqlx::query(q::COUNT_ANALYSES_FOR_RUN)
                    .bind(run_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "count_analyses_for_run",
                        format!("run {run_id}"),
                    ))?;
                let n: i64 = get(&row, "n", "analyses", &format!("run {run_id}"))?;
                // COUNT(*) is never negative.
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn delete_earnings_event(
                &self,
                ticker: &str,
                report_date: NaiveDate,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query(q::DELETE_EVENT)
                    .bind(ticker)
                    .bind(report_date)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "delete_earnings_event",
                        format!("report {ticker} {report_date}"),
                    ))?;
                Ok(done.rows_affected())
            }

            async fn insert_alert(&self, alert: &NewAlert) -> Result<Option<i64>, StoreError> {
                let row = sqlx::query(q::INSERT_ALERT)
                    .bind(alert.key.as_str())
                    .bind(alert.kind.as_str())
                    .bind(alert.ticker.as_deref())
                    .bind(alert.message.as_str())
                    .bind(alert.detail.as_str())
                    .bind(alert.created_at)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "insert_alert",
                        format!("alert {}", alert.key),
                    ))?;
                row.map(|r| get::<i64>(&r, "id", "alerts", &alert.key))
                    .transpose()
            }

            async fn alerts(
                &self,
                since: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<AlertRow>, StoreError> {
                let rows = sqlx::query(q::ALERTS_SINCE)
                    .bind(since)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query("alerts", format!("since {since}")))?;
                rows.iter().map(alert_from_row).collect()
            }

            async fn undelivered_alerts(
                &self,
                endpoint: &str,
                since: DateTime<Utc>,
                stale_before: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<AlertRow>, StoreError> {
                let rows = sqlx::query(q::UNDELIVERED_ALERTS)
                    .bind(since)
                    .bind(endpoint)
                    .bind(i64::from(limit))
                    .bind(stale_before)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "undelivered_alerts",
                        format!("endpoint {endpoint}"),
                    ))?;
                rows.iter().map(alert_from_row).collect()
            }

            async fn claim_delivery(
                &self,
                id: i64,
                endpoint: &str,
                stale_before: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let row = sqlx::query(q::CLAIM_DELIVERY)
                    .bind(id)
                    .bind(endpoint)
                    .bind(Utc::now())
                    .bind(stale_before)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "claim_delivery",
                        format!("alert {id} to {endpoint}"),
                    ))?;
                Ok(row.is_some())
            }

            async fn release_delivery(&self, id: i64, endpoint: &str) -> Result<(), StoreError> {
                sqlx::query(q::RELEASE_DELIVERY)
                    .bind(id)
                    .bind(endpoint)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "release_delivery",
                        format!("alert {id} to {endpoint}"),
                    ))?;
                Ok(())
            }

            async fn finish_delivery(
                &self,
                id: i64,
                endpoint: &str,
                outcome: DeliveryOutcome,
                attempts: u32,
                error: Option<&str>,
            ) -> Result<(), StoreError> {
                sqlx::query(q::FINISH_DELIVERY)
                    .bind(id)
                    .bind(endpoint)
                    .bind(outcome.as_str())
                    .bind(i64::from(attempts))
                    .bind(error)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "finish_delivery",
                        format!("alert {id} to {endpoint}"),
                    ))?;
                Ok(())
            }

            async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError> {
                const T: &str = "cache_entries";
                let row = sqlx::query(q::CACHE_GET)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query("cache_get", format!("key {key}")))?;
                match row {
                    None => Ok(None),
                    Some(r) => Ok(Some(CacheEntry {
                        value: get(&r, "value", T, key)?,
                        fetched_at: get(&r, "fetched_at", T, key)?,
                        expires_at: get(&r, "expires_at", T, key)?,
                    })),
                }
            }

            async fn cache_put(&self, key: &str, entry: &CacheEntry) -> Result<(), StoreError> {
                sqlx::query(q::CACHE_PUT)
                    .bind(key)
                    .bind(entry.value.as_slice())
                    .bind(entry.fetched_at)
                    .bind(entry.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query("cache_put", format!("key {key}")))?;
                Ok(())
            }

            async fn cache_purge_expired(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                let done = sqlx::query(q::CACHE_PURGE)
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "cache_purge_expired",
                        format!("before {before}"),
                    ))?;
                Ok(done.rows_affected())
            }

            async fn mark_progress(
                &self,
                ticker: &str,
                kind: &str,
                completed_through: NaiveDate,
            ) -> Result<(), StoreError> {
                sqlx::query(q::MARK_PROGRESS)
                    .bind(ticker)
                    .bind(kind)
                    .bind(completed_through)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "mark_progress",
                        format!("ticker {ticker} kind {kind}"),
                    ))?;
                Ok(())
            }

            async fn get_progress(
                &self,
                ticker: &str,
                kind: &str,
            ) -> Result<Option<Progress>, StoreError> {
                const T: &str = "backfill_progress";
                let key = format!("{ticker} {kind}");
                let row = sqlx::query(q::GET_PROGRESS)
                    .bind(ticker)
                    .bind(kind)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::query("get_progress", key.clone()))?;
                match row {
                    None => Ok(None),
                    Some(r) => Ok(Some(Progress {
                        ticker: get(&r, "ticker", T, &key)?,
                        kind: get(&r, "kind", T, &key)?,
                        completed_through: get(&r, "completed_through", T, &key)?,
                        covered_from: get(&r, "covered_from", T, &key)?,
                        updated_at: get(&r, "updated_at", T, &key)?,
                    })),
                }
            }

            async fn set_coverage(
                &self,
                ticker: &str,
                kind: &str,
                covered_from: NaiveDate,
                covered_through: NaiveDate,
            ) -> Result<(), StoreError> {
                if covered_from > covered_through {
                    return Err(StoreError::InvalidInput {
                        what: "coverage",
                        reason: format!(
                            "{ticker} {kind}: starts {covered_from} after it ends {covered_through}"
                        ),
                    });
                }
                sqlx::query(q::SET_COVERAGE)
                    .bind(ticker)
                    .bind(kind)
                    .bind(covered_through)
                    .bind(covered_from)
                    .bind(Utc::now())
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::query(
                        "set_coverage",
                        format!("ticker {ticker} kind {kind}"),
                    ))?;
                Ok(())
            }

            async fn migration_status(&self) -> Result<$crate::MigrationStatus, StoreError> {
                const OP: &str = "migration_status";
                let mut applied = Vec::new();
                if self.table_exists(q::MIGRATIONS_TABLE).await? {
                    let rows = sqlx::query(q::APPLIED_MIGRATIONS)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::query(OP, q::MIGRATIONS_TABLE))?;
                    for r in &rows {
                        let version: i64 = get(r, "version", q::MIGRATIONS_TABLE, "?")?;
                        let key = format!("version {version}");
                        applied.push((
                            version,
                            get(r, "description", q::MIGRATIONS_TABLE, &key)?,
                            get(r, "success", q::MIGRATIONS_TABLE, &key)?,
                        ));
                    }
                }
                Ok($crate::MigrationStatus::compare(&MIGRATOR, &applied))
            }

            async fn migrate(&self) -> Result<Vec<$crate::Migration>, StoreError> {
                let _one_at_a_time = self.migration_guard().await?;
                let before = self.migration_status().await?;
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|source| StoreError::Migrate {
                        backend: $backend,
                        source,
                    })?;
                Ok(before.pending)
            }

            async fn table_counts(&self) -> Result<Vec<$crate::TableCount>, StoreError> {
                let mut out = Vec::with_capacity($crate::admin::MAIN_TABLES.len());
                for table in $crate::admin::MAIN_TABLES {
                    let rows = if self.table_exists(table).await? {
                        // The table name is one of our constants, never input.
                        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT COUNT(*) FROM {table}"
                        )))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::query("table_counts", table))?;
                        Some(u64::try_from(n).unwrap_or(0))
                    } else {
                        None
                    };
                    out.push($crate::TableCount { table, rows });
                }
                Ok(out)
            }

            async fn prune(
                &self,
                cutoff: DateTime<Utc>,
                dry_run: bool,
            ) -> Result<$crate::Pruned, StoreError> {
                const OP: &str = "prune";
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(OP, "begin"))?;
                let analyses = sqlx::query(q::PRUNE_ANALYSES)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP, format!("analyses before {cutoff}")))?
                    .rows_affected();
                let cache_entries = sqlx::query(q::PRUNE_CACHE)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(
                        OP,
                        format!("cache entries expired before {cutoff}"),
                    ))?
                    .rows_affected();
                // A dry run deletes in the same way and rolls back: the counts are exact.
                if dry_run {
                    tx.rollback()
                        .await
                        .map_err(StoreError::query(OP, "rollback"))?;
                } else {
                    tx.commit().await.map_err(StoreError::query(OP, "commit"))?;
                }
                Ok($crate::Pruned {
                    analyses,
                    cache_entries,
                })
            }

            async fn backup_to(&self, dest: &std::path::Path) -> Result<(), StoreError> {
                self.backup_file(dest).await
            }
        }

        impl $store {
            /// Applies the pending migrations, writing nothing when the schema is current (the
            /// migrator itself always writes: a read-only session or a standby could not be
            /// opened).
            async fn migrate_if_behind(&self) -> Result<(), StoreError> {
                let _one_at_a_time = self.migration_guard().await?;
                if $crate::Store::migration_status(self).await?.is_current() {
                    return Ok(());
                }
                MIGRATOR
                    .run(&self.pool)
                    .await
                    .map_err(|source| StoreError::Migrate {
                        backend: $backend,
                        source,
                    })
            }

            async fn write_moves(
                &self,
                op: &'static str,
                ticker: &str,
                moves: &[HistoricalMove],
                mode: $crate::sql::MoveWrite,
            ) -> Result<u64, StoreError> {
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(StoreError::query(op, "begin"))?;
                if mode == $crate::sql::MoveWrite::Replace {
                    sqlx::query(q::DELETE_MOVES)
                        .bind(ticker)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(op, format!("ticker {ticker}")))?;
                }
                let rows = q::last_per_key(moves, |m| m.report_date);
                for chunk in rows.chunks(q::ROWS_PER_INSERT) {
                    sqlx::QueryBuilder::<$db>::new(q::UPSERT_MOVES)
                        .push_values(chunk, |mut b, m| {
                            b.push_bind(ticker)
                                .push_bind(m.report_date)
                                .push_bind(m.timing.as_str())
                                .push_bind(m.reaction_date)
                                .push_bind(m.reference_close)
                                .push_bind(m.close_move_pct.0)
                                .push_bind(m.gap_move_pct.0)
                                .push_bind(m.intraday_move_pct.0)
                                .push_bind(m.signed_close_pct.0);
                        })
                        .push(q::UPSERT_MOVES_CONFLICT)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::query(
                            op,
                            format!(
                                "ticker {ticker} reports {}",
                                q::span(chunk, |m| m.report_date)
                            ),
                        ))?;
                }
                tx.commit().await.map_err(StoreError::query(op, "commit"))?;
                Ok(moves.len() as u64)
            }
        }
    };
}

pub(crate) use impl_store;
