//! Storage for ivcrush: the earnings calendar, daily bars, historical earnings moves, analysis
//! results, resumable-job progress and the L2 cache of vendor reads.
//!
//! # The trait
//! Services hold an `Arc<dyn` [`Store`]`>` obtained from [`open_store`], which picks the
//! backend from a URL:
//!
//! | URL                                        | Backend                    |
//! |--------------------------------------------|----------------------------|
//! | `sqlite://ivcrush.db` (default), a path, `sqlite::memory:` | [`SqliteStore`] (WAL, foreign keys, busy timeout, `synchronous=NORMAL`) |
//! | `postgres://user@host/db`                  | [`PgStore`] (the shared store when scaling out) |
//!
//! Every multi-row write is one transaction (a failing batch changes nothing), upserts are
//! idempotent (`ON CONFLICT … DO UPDATE`), and a row that cannot be decoded is a
//! [`StoreError::Decode`] naming its table and key, never a panic.
//!
//! # Key decision: sqlx for both backends
//! [`sqlx`] gives one async API over SQLite and PostgreSQL, pooled connections on tokio, and
//! migrations embedded in the binary with `migrate!`. The two dialects share every statement
//! (`$N` placeholders, `ON CONFLICT`, `RETURNING` work in both); only the schemas differ, in
//! `migrations/sqlite/` and `migrations/postgres/` (numbered files, applied on open, never
//! edited once applied). Queries are checked by the test suite, which runs the same cases
//! against both engines, rather than by compile-time `query!` macros that would need a live
//! database or offline data to build.
//!
//! # The cache
//! [`HybridCache`] is a read-through cache for vendor data: memory L1 (moka) over the store's
//! cache table (L2), single-flight loading, per-endpoint TTLs (the [`CachePolicy`] table of the `[cache]` configuration), and stale
//! reads for graceful degradation. Expired L2 entries are kept for a grace period (7 days by
//! default) instead of being deleted at expiry, because when a vendor is down an old value
//! marked `stale: true` with its age is more useful than an error; see [`cache`] for details.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ivcrush_store::{CachePolicy, HybridCache, open_store};
//! let store = open_store("sqlite://ivcrush.db").await?;
//! store.ping().await?;
//! let cache = HybridCache::builder(store.clone()).build();
//! let chain = cache
//!     .get_or_fetch("tradier:chain:AAPL:2026-01-30", CachePolicy::default().chains(), || async {
//!         Ok::<_, std::io::Error>(vec![1.0_f64, 2.0])
//!     })
//!     .await?;
//! println!("{} values, stale: {}", chain.value.len(), chain.stale);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
pub mod cache;
mod error;
mod lead;
mod model;
mod postgres;
mod sql;
mod sqlite;
mod store;

pub use admin::{Migration, MigrationStatus, OpenMode, Pruned, TableCount};
pub use cache::{
    CacheError, CachePolicy, CacheStats, Cached, Clock, HybridCache, HybridCacheBuilder,
    SharedCacheTier, Source,
};
pub use error::{BoxError, StoreError};
pub use lead::Lead;
pub use model::{
    AlertRow, AnalysisFilter, Backend, CacheEntry, DeliveryOutcome, EarningsRow, NewAlert,
    NewAnalysis, Progress, ScoreRow, StoredAnalysis, TickerRow,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use store::{
    DEFAULT_POOL_SIZE, Store, backend_of, open_store, open_store_pooled, open_store_with,
    sqlite_file,
};

/// The `sqlx` this crate is built on: the types of [`SqliteStore::pool`],
/// [`PgStore::connect_with`] and friends, re-exported so that tools and tests needing raw
/// access (e.g. creating a PostgreSQL schema for a test) use the same version.
pub use sqlx;

/// Registers the HELP text of this crate's metrics with the current recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "ivcrush_cache_requests_total",
        "Read-through cache lookups by layer (memory, store) and outcome"
    );
}
