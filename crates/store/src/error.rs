//! The crate's one error type.

use crate::model::Backend;

/// Boxed error used as the source of decode failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
///
/// Every variant names the operation (and the ticker or key when there is one). Connection
/// strings are never included: they may carry passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be understood.
    #[error("invalid database URL: {reason}")]
    InvalidUrl {
        /// What is wrong (without the URL itself, which may hold a password).
        reason: String,
    },
    /// The database could not be opened or reached.
    #[error("cannot connect to the {backend} database at {at}")]
    Connect {
        /// Which backend.
        backend: Backend,
        /// Where: `host:port/database` or the file (never a password).
        at: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the {backend} database failed")]
    Migrate {
        /// Which backend.
        backend: Backend,
        /// The migrator error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed; a multi-row write was rolled back wholly.
    #[error("{op} failed ({context})")]
    Query {
        /// The store operation, e.g. `upsert_bars`.
        op: &'static str,
        /// What it was working on, e.g. `ticker AAPL`.
        context: String,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row could not be turned back into its Rust type.
    #[error("cannot decode a row of {table} ({key})")]
    Decode {
        /// The table.
        table: &'static str,
        /// The row's key, e.g. `AAPL 2026-01-29`.
        key: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// The database answers but would refuse writes (a read-only file, a standby server).
    #[error("the {backend} database is read-only: {reason}")]
    ReadOnly {
        /// Which backend.
        backend: Backend,
        /// Why it is read-only.
        reason: String,
    },
    /// The database does not exist, and the store was opened without creating it
    /// ([`OpenMode::Existing`](crate::OpenMode::Existing)).
    #[error("the {backend} database {at} does not exist")]
    Missing {
        /// Which backend.
        backend: Backend,
        /// The file.
        at: String,
    },
    /// A file is not a usable ivcrush database (a damaged file, another program's database).
    #[error("{at} is not a usable ivcrush database: {reason}")]
    NotIvcrush {
        /// The file.
        at: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another connection (another process) has the database open.
    #[error("the {backend} database {at} is in use by another process")]
    InUse {
        /// Which backend.
        backend: Backend,
        /// The file.
        at: String,
    },
    /// The backend cannot do this.
    #[error("{what} is not supported on {backend}: {hint}")]
    Unsupported {
        /// Which backend.
        backend: Backend,
        /// The operation.
        what: &'static str,
        /// What to use instead.
        hint: &'static str,
    },
    /// A file beside the database could not be used.
    #[error("cannot use the {what} {}", path.display())]
    Io {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A value cannot be stored (e.g. a volume above `i64::MAX`).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// The field.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn query(
        op: &'static str,
        context: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> Self {
        let context = context.into();
        move |source| StoreError::Query {
            op,
            context,
            source,
        }
    }

    pub(crate) fn decode(
        table: &'static str,
        key: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        StoreError::Decode {
            table,
            key: key.into(),
            source: source.into(),
        }
    }
}
