//! `ivcrush db migrate|status|backup|restore|prune`: the database an operator can trust.
//! `status` and `prune` never create a database; `backup` and `restore` replace files only
//! whole (a temporary file in the same directory, renamed over the target).

use crate::cli::{CommonArgs, OutputFormat};
use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use clap::{Args, Subcommand};
use ivcrush_app::config::redact_url;
use ivcrush_app::store::{
    self, Backend, MigrationStatus, OpenMode, SqliteStore, Store, StoreError, TableCount,
};
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `ivcrush db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Database actions.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the pending schema migrations (creating the SQLite file when missing) and list
    /// what was applied.
    Migrate,
    /// Backend, location, migrations applied and pending, rows per table, file size. Creates
    /// and changes nothing.
    Status {
        /// Output format (table or json).
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Copy the SQLite database to FILE, consistently, while it stays in use (`VACUUM INTO`).
    /// PostgreSQL: use pg_dump.
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Overwrite FILE when it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace the SQLite database with a backup, atomically, after checking that the backup
    /// is an intact ivcrush database. Refused while another process has the database open
    /// (stop serve, ticker and the scan timer first). PostgreSQL: use pg_restore or psql.
    Restore {
        /// The backup file (from `ivcrush db backup`).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Do not keep the replaced database as <name>.bak-<timestamp>.
        #[arg(long)]
        no_keep: bool,
    },
    /// Delete stored analyses (scan, analyze and batch rows) created more than DAYS days ago
    /// and cache entries that expired more than DAYS days ago, in one transaction. Earnings
    /// events, daily bars, historical moves, tickers and backfill progress are never deleted:
    /// they are the history the analysis needs.
    Prune {
        /// Age in days of the rows to delete (0: every stored analysis, every expired cache
        /// entry).
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
        /// Count what would be deleted and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs the db command.
pub fn run(a: DbArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&a.common);
    let config = super::load_config(&a.common)?;
    // Only `migrate` may create the database (and the state directory of the default one).
    let url = match a.command {
        DbCommand::Migrate => config.database_creating_dir()?,
        _ => config.database(),
    };
    super::runtime()?.block_on(async move {
        match a.command {
            DbCommand::Migrate => migrate(&url).await,
            DbCommand::Status { format } => status(&url, format).await,
            DbCommand::Backup { to, force } => backup(&url, &to, force).await,
            DbCommand::Restore { from, no_keep } => restore(&url, &from, !no_keep).await,
            DbCommand::Prune {
                older_than,
                dry_run,
            } => prune(&url, older_than, dry_run).await,
        }
    })
}

async fn open(url: &str, mode: OpenMode) -> anyhow::Result<Arc<dyn Store>> {
    match store::open_store_with(url, mode).await {
        Ok(db) => Ok(db),
        Err(e @ StoreError::Missing { .. }) => Err(anyhow::Error::new(e).context(format!(
            "opening the database {} (`ivcrush db migrate` creates it, `ivcrush db restore` \
             brings back a backup)",
            redact_url(url)
        ))),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("opening the database {}", redact_url(url))))
        }
    }
}

async fn migrate(url: &str) -> anyhow::Result<ExitCode> {
    let db = open(url, OpenMode::CreateUnmigrated).await?;
    let applied = db.migrate().await.context("migrating the database")?;
    let mut out = std::io::stdout().lock();
    if applied.is_empty() {
        writeln!(
            out,
            "{}: schema up to date, no migration to apply",
            redact_url(url)
        )?;
    } else {
        writeln!(
            out,
            "{}: applied {} migration(s):",
            redact_url(url),
            applied.len()
        )?;
        for m in &applied {
            writeln!(out, "  {m}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `db status` reports.
#[derive(Debug, Serialize)]
struct Status {
    backend: &'static str,
    location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileInfo>,
    schema_current: bool,
    migrations: MigrationStatus,
    tables: Vec<TableCount>,
}

/// The SQLite file and its write-ahead log.
#[derive(Debug, Serialize)]
struct FileInfo {
    path: PathBuf,
    bytes: u64,
    wal_bytes: u64,
}

async fn status(url: &str, format: OutputFormat) -> anyhow::Result<ExitCode> {
    let db = open(url, OpenMode::Existing).await?;
    let migrations = db
        .migration_status()
        .await
        .context("reading the migrations")?;
    let tables = db.table_counts().await.context("counting rows")?;
    let file = match store::sqlite_file(url)? {
        Some(path) => {
            let bytes = std::fs::metadata(&path)
                .with_context(|| format!("reading the size of {}", path.display()))?
                .len();
            let wal_bytes = std::fs::metadata(sibling(&path, "-wal")).map_or(0, |m| m.len());
            Some(FileInfo {
                path,
                bytes,
                wal_bytes,
            })
        }
        None => None,
    };
    let status = Status {
        backend: db.backend().as_str(),
        location: redact_url(url),
        file,
        schema_current: migrations.is_current(),
        migrations,
        tables,
    };
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &status)?;
            writeln!(out)?;
        }
        _ => write!(out, "{}", status_text(&status))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn status_text(s: &Status) -> String {
    let names = |ms: &[store::Migration]| {
        ms.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let m = &s.migrations;
    let mut t = format!("backend     {}\nlocation    {}\n", s.backend, s.location);
    if let Some(f) = &s.file {
        t += &format!(
            "file        {} ({} bytes, write-ahead log {} bytes)\n",
            f.path.display(),
            f.bytes,
            f.wal_bytes
        );
    }
    t += &format!(
        "migrations  {} applied, {} pending{}\n",
        m.applied.len(),
        m.pending.len(),
        if s.schema_current { " (current)" } else { "" }
    );
    for (label, list) in [
        ("applied", &m.applied),
        ("pending", &m.pending),
        ("unknown to this binary", &m.unknown),
        ("failed", &m.failed),
    ] {
        if !list.is_empty() {
            t += &format!("  {label}: {}\n", names(list));
        }
    }
    t += "rows\n";
    for c in &s.tables {
        let rows = c
            .rows
            .map_or_else(|| "(no table)".to_string(), |n| n.to_string());
        t += &format!("  {:<18} {rows:>10}\n", c.table);
    }
    t
}

/// `path` with `suffix` appended to its file name (`x.db` → `x.db-wal`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// A temporary name for `target` in its own directory (so that a rename replaces it
/// atomically).
fn temp_beside(target: &Path, what: &str) -> PathBuf {
    sibling(
        target,
        &format!(
            ".{what}-{}-{}.tmp",
            std::process::id(),
            Utc::now().timestamp_micros()
        ),
    )
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Flushes the directory holding `path`, so that a rename in it survives a crash.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        // Not all platforms can sync a directory; the rename itself is done.
        let _ = d.sync_all();
    }
}

async fn backup(url: &str, to: &Path, force: bool) -> anyhow::Result<ExitCode> {
    if store::backend_of(url)? == Backend::Postgres {
        bail!(
            "ivcrush backs up SQLite databases only: back up PostgreSQL with pg_dump \
             (pg_dump -Fc -f ivcrush.dump \"$DATABASE_URL\", restored with pg_restore)"
        );
    }
    if let Some(db_file) = store::sqlite_file(url)?
        && same_file(&db_file, to)
    {
        bail!("{} is the database itself", to.display());
    }
    if to.exists() && !force {
        bail!(
            "{} exists: choose another file or pass --force to overwrite it",
            to.display()
        );
    }
    let db = open(url, OpenMode::Existing).await?;
    // VACUUM INTO refuses an existing file: write a new one, then rename it over the target.
    let tmp = temp_beside(to, "backup");
    let written = db
        .backup_to(&tmp)
        .await
        .with_context(|| format!("backing up to {}", to.display()));
    let done = written.and_then(|()| {
        std::fs::rename(&tmp, to)
            .with_context(|| format!("renaming {} to {}", tmp.display(), to.display()))
    });
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(to);
    let bytes = std::fs::metadata(to).map_or(0, |m| m.len());
    writeln!(
        std::io::stdout(),
        "backed up {} to {} ({bytes} bytes)",
        redact_url(url),
        to.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn restore(url: &str, from: &Path, keep: bool) -> anyhow::Result<ExitCode> {
    let target = match (store::backend_of(url)?, store::sqlite_file(url)?) {
        (Backend::Postgres, _) => bail!(
            "ivcrush restores SQLite databases only: restore PostgreSQL with pg_restore \
             (or psql for a plain dump)"
        ),
        (_, None) => bail!("the database is in memory: there is no file to restore"),
        (_, Some(file)) => file,
    };
    if same_file(&target, from) {
        bail!("{} is the database itself", from.display());
    }
    // A backup with its own write-ahead log (a copied live database) is folded into one file
    // first: the file alone would miss the log's transactions.
    if std::fs::metadata(sibling(from, "-wal")).is_ok_and(|m| m.len() > 0) {
        SqliteStore::quiesce(from)
            .await
            .with_context(|| format!("folding the write-ahead log of {}", from.display()))?;
    }
    let backup_status = SqliteStore::inspect_file(from)
        .await
        .with_context(|| format!("checking the backup {}", from.display()))?;
    if !backup_status.unknown.is_empty() || !backup_status.failed.is_empty() {
        bail!(
            "{} was written by a newer ivcrush or holds a failed migration: restore it with \
             the version that wrote it",
            from.display()
        );
    }
    let exists = target.is_file();
    if exists {
        match SqliteStore::quiesce(&target).await {
            Err(e @ StoreError::InUse { .. }) => {
                return Err(anyhow::Error::new(e).context(
                    "not restoring: stop the processes using it (serve, ticker, the scan \
                     timer) and try again",
                ));
            }
            other => other.with_context(|| format!("preparing {}", target.display()))?,
        }
    }
    let tmp = temp_beside(&target, "restore");
    let copied = match copy_synced(from, &tmp) {
        // The restored database runs in WAL mode like the one it replaces, so that the next
        // restore can tell whether a process has it open.
        Ok(()) => SqliteStore::use_wal(&tmp)
            .await
            .with_context(|| format!("preparing {}", tmp.display())),
        Err(e) => Err(e),
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let kept = if exists && keep {
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let bak = sibling(&target, &format!(".bak-{stamp}"));
        // A hard link keeps the old file under a second name without copying it; the rename
        // below then swaps the new file in.
        if std::fs::hard_link(&target, &bak).is_err() {
            std::fs::copy(&target, &bak)
                .with_context(|| format!("keeping {} as {}", target.display(), bak.display()))?;
        }
        Some(bak)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("replacing {}", target.display()));
    }
    // The old database's log and index would be replayed into the new file: remove them.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(&target, suffix));
    }
    sync_dir(&target);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "restored {} into {} ({} migrations applied{})",
        from.display(),
        redact_url(url),
        backup_status.applied.len(),
        if backup_status.pending.is_empty() {
            String::new()
        } else {
            format!(
                "; {} pending, applied by `ivcrush db migrate` or the next command",
                backup_status.pending.len()
            )
        }
    )?;
    if let Some(bak) = kept {
        writeln!(out, "previous database kept as {}", bak.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies `from` to the new file `to` and flushes it to disk.
fn copy_synced(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut src =
        std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .with_context(|| format!("creating {}", to.display()))?;
    std::io::copy(&mut src, &mut dst)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    dst.sync_all()
        .with_context(|| format!("flushing {}", to.display()))?;
    Ok(())
}

async fn prune(url: &str, days: u32, dry_run: bool) -> anyhow::Result<ExitCode> {
    let db = open(url, OpenMode::Existing).await?;
    let cutoff = Utc::now() - TimeDelta::days(i64::from(days));
    let pruned = db
        .prune(cutoff, dry_run)
        .await
        .context("pruning the database")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} rows older than {} ({days} days) in {}:",
        if dry_run { "would delete" } else { "deleted" },
        cutoff.format("%Y-%m-%d %H:%M:%S UTC"),
        redact_url(url)
    )?;
    for (table, rows) in pruned.tables() {
        writeln!(out, "  {table:<14} {rows:>10}")?;
    }
    writeln!(
        out,
        "kept: earnings events, daily bars, historical moves, tickers, backfill progress"
    )?;
    if dry_run {
        writeln!(out, "dry run: nothing was deleted")?;
    }
    Ok(ExitCode::SUCCESS)
}
