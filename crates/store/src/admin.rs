//! Administration of the database itself: how it is opened, its migrations, row counts and
//! pruning (`ivcrush db`).

use serde::Serialize;

/// How [`open_store_with`](crate::open_store_with) treats the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// Create it when missing and apply the pending migrations (every command that uses it).
    #[default]
    Migrate,
    /// Open it only when it exists and apply nothing: health checks and status reports must
    /// not create a database nor change its schema. A missing SQLite file is
    /// [`StoreError::Missing`](crate::StoreError::Missing); pending migrations are reported
    /// by [`Store::migration_status`](crate::Store::migration_status).
    Existing,
    /// Create it when missing but apply nothing, so that the caller migrates explicitly and
    /// learns what was applied ([`Store::migrate`](crate::Store::migrate)).
    CreateUnmigrated,
}

impl OpenMode {
    /// Whether a missing SQLite file is created.
    pub fn creates(self) -> bool {
        !matches!(self, OpenMode::Existing)
    }

    /// Whether pending migrations are applied on open.
    pub fn migrates(self) -> bool {
        matches!(self, OpenMode::Migrate)
    }
}

/// One schema migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// Its number (`0003`).
    pub version: i64,
    /// Its description (from the file name).
    pub description: String,
}

impl std::fmt::Display for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04} {}", self.version, self.description)
    }
}

/// The schema's migrations compared with those this binary carries.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MigrationStatus {
    /// Applied successfully, oldest first.
    pub applied: Vec<Migration>,
    /// Carried by this binary and not applied yet, oldest first.
    pub pending: Vec<Migration>,
    /// Applied but unknown to this binary: the database was migrated by a newer version.
    pub unknown: Vec<Migration>,
    /// Started and not completed (the migrator refuses to go on until repaired).
    pub failed: Vec<Migration>,
}

impl MigrationStatus {
    /// `applied` rows as `(version, description, success)` compared with `known`, the
    /// migrations this binary carries.
    pub(crate) fn compare(
        known: &sqlx::migrate::Migrator,
        applied: &[(i64, String, bool)],
    ) -> MigrationStatus {
        let known: Vec<Migration> = known
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| Migration {
                version: m.version,
                description: m.description.to_string(),
            })
            .collect();
        let mut status = MigrationStatus::default();
        for (version, description, success) in applied {
            let m = Migration {
                version: *version,
                description: description.clone(),
            };
            if !success {
                status.failed.push(m);
            } else if known.iter().any(|k| k.version == *version) {
                status.applied.push(m);
            } else {
                status.unknown.push(m);
            }
        }
        status.pending = known
            .into_iter()
            .filter(|k| !applied.iter().any(|(v, _, _)| *v == k.version))
            .collect();
        status
    }

    /// Whether the schema is exactly what this binary expects.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty() && self.failed.is_empty()
    }
}

/// Rows of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Its rows; `None` when the table does not exist (migrations pending).
    pub rows: Option<u64>,
}

/// The tables [`Store::table_counts`](crate::Store::table_counts) reports.
pub(crate) const MAIN_TABLES: [&str; 9] = [
    "tickers",
    "earnings_events",
    "daily_bars",
    "historical_moves",
    "analyses",
    "cache_entries",
    "backfill_progress",
    "alerts",
    "alert_deliveries",
];

/// What [`Store::prune`](crate::Store::prune) deleted (or would delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pruned {
    /// Stored analyses (scan, analyze and batch rows) created before the cutoff.
    pub analyses: u64,
    /// Cache entries that expired before the cutoff.
    pub cache_entries: u64,
}

impl Pruned {
    /// `(table, rows)` for each pruned table.
    pub fn tables(&self) -> [(&'static str, u64); 2] {
        [
            ("analyses", self.analyses),
            ("cache_entries", self.cache_entries),
        ]
    }
}
