//! Application configuration — one tree for every command, the HTTP service (`[server]`) and
//! the streaming ticker (`[ticker]`): defaults < `ivcrush.toml` (optional) < environment <
//! flags, read once into checked types (cron expression, time zone, secrets) and validated with
//! every problem reported together. Secrets are [`SecretString`]s: they never appear in `show`
//! output, `Debug`, logs or errors.
//!
//! The file is strict (an unknown key is an error); the environment is not (an `IVCRUSH_*`
//! variable that names no setting is a warning, with a suggestion when it is close to one):
//! see [`env`].

pub mod alerts;
pub mod env;
pub mod jobs;
pub mod server;
pub mod ticker;

use crate::clock::AsOf;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use ivcrush_core::AnalyticsConfig;
use ivcrush_fleet::FleetConfig;
use ivcrush_market::{AlphaVantageConfig, TradierConfig, secret};
use ivcrush_store::CachePolicy;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use self::jobs::JobsSettings;
pub use self::server::{CronSchedule, ServerSettings, TimeZone};
pub use self::ticker::{TickerFeed, TickerSettings};
pub use ivcrush_market::{ExposeSecret, SecretString};

/// Where market data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// The deterministic simulated market (default; no keys, no network).
    #[default]
    Sim,
    /// Tradier (needs `TRADIER_API_KEY`).
    Tradier,
    /// Files imported from a directory.
    Files,
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sim" => Ok(ProviderKind::Sim),
            "tradier" => Ok(ProviderKind::Tradier),
            "files" => Ok(ProviderKind::Files),
            other => Err(format!(
                "unknown provider {other:?}: expected sim, tradier or files"
            )),
        }
    }
}

impl ProviderKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Sim => "sim",
            ProviderKind::Tradier => "tradier",
            ProviderKind::Files => "files",
        }
    }
}

/// Where the earnings calendar and past report dates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarProviderKind {
    /// Alpha Vantage (`EARNINGS_CALENDAR`, `EARNINGS`): the default with `provider = "tradier"`.
    Alphavantage,
    /// The files directory's `calendar.csv`.
    Files,
}

/// The simulated market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Seed of the random paths (42).
    pub seed: u64,
    /// Tickers of the simulated universe (60, the named ones); more are generated for load
    /// tests and benchmarks (at most 17,636).
    pub universe_size: usize,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            seed: 42,
            universe_size: ivcrush_market::sim::universe::DEFAULT_SIZE,
        }
    }
}

/// Scan defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanSettings {
    /// Tickers analysed at once (8).
    pub concurrency: usize,
    /// Calendar window in days from the start date (7).
    pub days: u32,
    /// Years of history to backfill for historical moves (3).
    pub history_years: u32,
    /// Chains per ticker when a scan runs on a live vendor (2: the event expiry and the next).
    /// The vendor's quota is the limit of a live scan (120 requests a minute for Tradier); a
    /// single `analyze` and the simulated market fetch every expiry the term-structure fit
    /// wants (typically 6–7).
    pub live_chains: usize,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            concurrency: 8,
            days: 7,
            history_years: 3,
            live_chains: 2,
        }
    }
}

/// Files provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSettings {
    /// Directory holding the files (`./data`).
    pub dir: PathBuf,
}

impl Default for FilesSettings {
    fn default() -> Self {
        FilesSettings {
            dir: PathBuf::from("data"),
        }
    }
}

/// Everything configurable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Database URL: `sqlite://FILE` or `postgres://…` (`DATABASE_URL`); empty (default): SQLite
    /// in the state directory ([`default_database_url`]), wherever the command runs.
    pub database_url: String,
    /// Connections of this process's database pool (1..=100). Default 8.
    pub database_pool_size: u32,
    /// Market-data provider (`sim`).
    pub provider: ProviderKind,
    /// Calendar vendor for `provider = "tradier"` (which has no earnings calendar): `alphavantage`
    /// (default) or `files`. The `sim` and `files` providers bring their own calendar.
    pub calendar_provider: Option<CalendarProviderKind>,
    /// As-of of the simulated market and files: a date (`YYYY-MM-DD`), an RFC 3339 date-time or
    /// `YYYY-MM-DD HH:MM` in New York time (default: now, or the last close when the market is
    /// shut); see [`crate::clock`].
    pub as_of: Option<AsOf>,
    /// Risk-free rate, continuous (0.043).
    pub risk_free_rate: f64,
    /// Dividend yield assumed for every ticker, continuous (0).
    pub dividend_yield: f64,
    /// Simulated market.
    pub sim: SimSettings,
    /// Scan defaults.
    pub scan: ScanSettings,
    /// The read-through cache: memory bound and TTL per vendor endpoint, handed to the store.
    pub cache: CachePolicy,
    /// Files provider.
    pub files: FilesSettings,
    /// Analytics thresholds and weights.
    pub analytics: AnalyticsConfig,
    /// Tradier (options, quotes, bars); key also from `TRADIER_API_KEY`.
    pub tradier: TradierConfig,
    /// Alpha Vantage (earnings calendar and past report dates with `--provider tradier`); key
    /// also from `ALPHAVANTAGE_API_KEY`.
    pub alphavantage: AlphaVantageConfig,
    /// The HTTP service (`ivcrush serve`).
    pub server: ServerSettings,
    /// The streaming ticker (`ivcrush ticker`).
    pub ticker: TickerSettings,
    /// Several processes sharing the vendor quota and breakers through Redis.
    pub fleet: FleetConfig,
    /// The distributed scan's job queue (`ivcrush worker`, `ivcrush scan --distributed`).
    pub jobs: JobsSettings,
    /// Alerts: thresholds and webhooks.
    pub alerts: alerts::AlertSettings,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            database_url: String::new(),
            database_pool_size: ivcrush_store::DEFAULT_POOL_SIZE,
            provider: ProviderKind::Sim,
            calendar_provider: None,
            as_of: None,
            risk_free_rate: 0.043,
            dividend_yield: 0.0,
            sim: SimSettings::default(),
            scan: ScanSettings::default(),
            cache: CachePolicy::default(),
            files: FilesSettings::default(),
            analytics: AnalyticsConfig::default(),
            tradier: TradierConfig::default(),
            alphavantage: AlphaVantageConfig::default(),
            server: ServerSettings::default(),
            ticker: TickerSettings::default(),
            fleet: FleetConfig::default(),
            jobs: JobsSettings::default(),
            alerts: alerts::AlertSettings::default(),
        }
    }
}

/// Every problem found while loading or validating the configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("configuration has {} problem(s):\n  - {}", .problems.len(), .problems.join("\n  - "))]
pub struct ConfigError {
    /// One line per problem, naming the setting.
    pub problems: Vec<String>,
}

/// Default configuration file, read when present.
pub const DEFAULT_CONFIG_FILE: &str = "ivcrush.toml";
/// The former file of `ivcrush serve`, read as `[server]` when present (deprecated).
pub const LEGACY_SERVER_CONFIG_FILE: &str = "ivcrush-server.toml";

/// Where the configuration comes from besides the defaults, the environment and the flags.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// The configuration file (`--config FILE`); `./ivcrush.toml` when `None` and present.
    pub file: Option<PathBuf>,
    /// A former `ivcrush-server.toml` (`--server-config FILE`), read as `[server]` under the
    /// configuration file; `./ivcrush-server.toml` when `None` and present. Deprecated.
    pub legacy_server_file: Option<PathBuf>,
}

/// A loaded configuration and what was ignored on the way.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The validated configuration.
    pub config: AppConfig,
    /// One line per ignored environment variable or deprecated source.
    pub warnings: Vec<String>,
}

/// The file `explicit`, or `default` when it exists, or nothing.
fn pick_file(explicit: Option<&Path>, default: &str) -> Result<Option<PathBuf>, ConfigError> {
    match explicit {
        Some(f) if !f.exists() => Err(ConfigError {
            problems: vec![format!("config file {} does not exist", f.display())],
        }),
        Some(f) => Ok(Some(f.to_path_buf())),
        None if Path::new(default).exists() => Ok(Some(PathBuf::from(default))),
        None => Ok(None),
    }
}

/// A former server file as the `[server]` section.
fn legacy_server_section(path: &Path) -> Result<Value, ConfigError> {
    let problem = |m: String| ConfigError {
        problems: vec![format!("{}: {m}", path.display())],
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| problem(e.message().to_owned()))?;
    Value::serialize(&table)
        .map(|v| figment::util::nest("server", v))
        .map_err(|e| problem(e.to_string()))
}

impl AppConfig {
    /// Loads defaults < `file` (or `./ivcrush.toml` when it exists) < environment (`IVCRUSH_*`,
    /// nested keys with `__`, e.g. `IVCRUSH_SCAN__CONCURRENCY`; the conventional
    /// [`env::CONVENTIONAL_ENV`]; `IVCRUSH_API_KEYS` added to `server.api_keys`) < `overrides`
    /// (flags, as a partial serde value), then validates. Warnings (ignored variables, a
    /// deprecated `ivcrush-server.toml`) are logged.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem (unreadable file, unknown key in the file, bad
    /// values, failed validation).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<AppConfig, ConfigError> {
        let sources = ConfigSources {
            file: file.map(Path::to_path_buf),
            legacy_server_file: None,
        };
        let loaded = AppConfig::load_from(&sources, overrides, std::env::vars())?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        Ok(loaded.config)
    }

    /// [`AppConfig::load`] from explicit sources and environment variables, returning the
    /// warnings instead of logging them.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem.
    pub fn load_from(
        sources: &ConfigSources,
        overrides: impl Serialize,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<LoadedConfig, ConfigError> {
        let mut warnings = Vec::new();
        let mut fig = Figment::from(Serialized::defaults(AppConfig::default()));
        if let Some(legacy) = pick_file(
            sources.legacy_server_file.as_deref(),
            LEGACY_SERVER_CONFIG_FILE,
        )? {
            warnings.push(format!(
                "{} is deprecated: move its settings into the [server] section of {} \
                 (same keys)",
                legacy.display(),
                DEFAULT_CONFIG_FILE
            ));
            fig = fig.merge(Serialized::defaults(legacy_server_section(&legacy)?));
        }
        if let Some(file) = pick_file(sources.file.as_deref(), DEFAULT_CONFIG_FILE)? {
            fig = fig.merge(Toml::file(file));
        }
        AppConfig::load_layers(fig, warnings, overrides, vars)
    }

    /// [`AppConfig::load_from`] with the configuration file given as text (no file is read,
    /// not even `./ivcrush.toml`): what the fuzz target and tests of the file format use.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem.
    pub fn load_from_text(
        toml_text: &str,
        overrides: impl Serialize,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<LoadedConfig, ConfigError> {
        let fig = Figment::from(Serialized::defaults(AppConfig::default()))
            .merge(Toml::string(toml_text));
        AppConfig::load_layers(fig, Vec::new(), overrides, vars)
    }

    /// The environment and `overrides` over `fig` (defaults and files), extracted and validated.
    fn load_layers(
        mut fig: Figment,
        mut warnings: Vec<String>,
        overrides: impl Serialize,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<LoadedConfig, ConfigError> {
        let env = env::read(vars, &AppConfig::key_paths());
        warnings.extend(env.warnings);
        for (key, value) in env.prefixed.into_iter().chain(env.conventional) {
            fig = fig.merge(Serialized::defaults(figment::util::nest(&key, value)));
        }
        fig = fig.merge(Serialized::defaults(overrides));
        let mut cfg: AppConfig = fig.extract().map_err(|e| ConfigError {
            problems: e
                .into_iter()
                // Figment names keys with their profile; we have one.
                .map(|e| e.to_string().replace("for key \"default.", "for key \""))
                .collect(),
        })?;
        if let Some(list) = env.api_keys {
            cfg.server.add_keys(&list);
        }
        if let Some(list) = env.admin_keys {
            cfg.server.add_admin_keys(&list);
        }
        cfg.validate()?;
        Ok(LoadedConfig {
            config: cfg,
            warnings,
        })
    }

    /// Every dotted key of the tree (`scan.concurrency`, `server.bind`, …; tables included).
    pub fn key_paths() -> std::collections::BTreeSet<String> {
        env::key_paths(&serde_json::to_value(AppConfig::default()).unwrap_or_default())
    }

    /// Checks every setting; all problems at once.
    ///
    /// # Errors
    /// [`ConfigError`] with one line per problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Vec::new();
        if let Err(e) = self.analytics.validate() {
            p.extend(e.problems.into_iter().map(|m| format!("analytics: {m}")));
        }
        if !(self.risk_free_rate.is_finite() && self.risk_free_rate.abs() < 1.0) {
            p.push(format!(
                "risk_free_rate must be a finite rate below 100 % (got {})",
                self.risk_free_rate
            ));
        }
        if !(self.dividend_yield.is_finite() && (0.0..1.0).contains(&self.dividend_yield)) {
            p.push(format!(
                "dividend_yield must be within 0..1 (got {})",
                self.dividend_yield
            ));
        }
        if self.scan.concurrency == 0 || self.scan.concurrency > 256 {
            p.push(format!(
                "scan.concurrency must be within 1..=256 (got {})",
                self.scan.concurrency
            ));
        }
        if self.scan.days == 0 || self.scan.days > 366 {
            p.push(format!(
                "scan.days must be within 1..=366 (got {})",
                self.scan.days
            ));
        }
        if self.scan.history_years == 0 || self.scan.history_years > 20 {
            p.push(format!(
                "scan.history_years must be within 1..=20 (got {})",
                self.scan.history_years
            ));
        }
        if !(1..=100).contains(&self.database_pool_size) {
            p.push(format!(
                "database_pool_size must be within 1..=100 (got {})",
                self.database_pool_size
            ));
        }
        let has_tradier_key = !secret::is_blank(&self.tradier.api_key);
        if self.provider == ProviderKind::Tradier {
            if !has_tradier_key {
                p.push("provider tradier needs tradier.api_key (or TRADIER_API_KEY)".into());
            }
            if self.calendar_vendor() == Some(CalendarProviderKind::Alphavantage)
                && secret::is_blank(&self.alphavantage.api_key)
            {
                p.push(
                    "provider tradier takes its earnings calendar and past report dates from Alpha \
                     Vantage: set alphavantage.api_key (or ALPHAVANTAGE_API_KEY)"
                        .into(),
                );
            }
        }
        if self.cache.max_entries == 0 {
            p.push("cache.max_entries must be >= 1".into());
        }
        for (vendor, http) in [
            ("tradier", &self.tradier.http),
            ("alphavantage", &self.alphavantage.http),
        ] {
            if http.max_body_bytes < 1024 {
                p.push(format!(
                    "{vendor}.http.max_body_bytes must be at least 1024 (got {})",
                    http.max_body_bytes
                ));
            }
        }
        p.extend(self.server.problems());
        p.extend(self.ticker.problems(has_tradier_key));
        p.extend(self.fleet.problems());
        p.extend(self.jobs.problems());
        if self.server.distributed_scans && self.jobs.redis.is_empty() {
            p.push(
                "server.distributed_scans needs the job queue: set jobs.redis \
                 (IVCRUSH_JOBS__REDIS) to the workers' Redis URL"
                    .to_owned(),
            );
        }
        p.extend(self.alerts.problems());
        if let Err(e) = ivcrush_market::sim::universe::check_size(self.sim.universe_size) {
            p.push(format!("sim.universe_size: {e}"));
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems: p })
        }
    }

    /// The database in effect: `database_url`, or SQLite in the state directory when it is
    /// empty ([`default_database_url`]).
    pub fn database(&self) -> String {
        let url = self.database_url.trim();
        if url.is_empty() {
            default_database_url(&|name| std::env::var_os(name))
        } else {
            url.to_owned()
        }
    }

    /// [`AppConfig::database`] for a command that may create it: the state directory of the
    /// default location is created (mode 0700) when missing.
    ///
    /// # Errors
    /// The state directory cannot be created.
    pub fn database_creating_dir(&self) -> Result<String, ConfigError> {
        let url = self.database();
        if self.database_url.trim().is_empty()
            && let Some(dir) = url
                .strip_prefix("sqlite://")
                .map(Path::new)
                .and_then(Path::parent)
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| ConfigError {
                problems: vec![format!(
                    "cannot create the state directory {} for the database: {e}",
                    dir.display()
                )],
            })?;
        }
        Ok(url)
    }

    /// Applies the settings that belong to the process rather than to one app: the size of the
    /// simulated universe (every simulated market of the process sees it). Called once by the
    /// binary after loading; the configuration is validated, so this cannot fail on it.
    pub fn apply_to_process(&self) {
        if let Err(e) = ivcrush_market::sim::universe::set_size(self.sim.universe_size) {
            tracing::warn!(error = %e, "sim.universe_size not applied");
        }
    }

    /// The calendar vendor in effect for the `tradier` provider (`None` for providers that bring
    /// their own calendar).
    pub fn calendar_vendor(&self) -> Option<CalendarProviderKind> {
        match self.provider {
            ProviderKind::Tradier => Some(
                self.calendar_provider
                    .unwrap_or(CalendarProviderKind::Alphavantage),
            ),
            ProviderKind::Sim | ProviderKind::Files => None,
        }
    }

    /// The whole configuration as TOML with secrets redacted: API keys print as `"***"` (they
    /// are [`SecretString`](ivcrush_market::SecretString)s), passwords in URLs as `***`.
    pub fn show(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url(&self.database_url);
        shown.ticker.redis = redact_url(&self.ticker.redis);
        if !self.jobs.redis.is_empty() {
            shown.jobs.redis = redact_url(&self.jobs.redis);
        }
        if !self.fleet.redis.is_empty() {
            shown.fleet.redis = redact_url(&self.fleet.redis);
        }
        // A webhook URL's path or query may carry a token: its origin only.
        for e in &mut shown.alerts.webhooks.endpoints {
            e.url = ivcrush_notify::redacted_url(&e.url);
        }
        toml_string(&shown)
    }
}

/// SQLite in the state directory, so that every command finds the same database wherever it
/// runs (a path relative to the working directory made `ivcrush history` run elsewhere create
/// a new database and backfill three years): `$STATE_DIRECTORY/ivcrush.db` under systemd
/// (`StateDirectory=ivcrush`), else `$XDG_STATE_HOME/ivcrush/ivcrush.db`, else
/// `~/.local/state/ivcrush/ivcrush.db`, else `./ivcrush.db`. `env` reads a variable.
pub fn default_database_url(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> String {
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = env("STATE_DIRECTORY")
        .filter(|v| !v.is_empty())
        // systemd lists several directories separated by ':' when several are configured.
        .and_then(|v| v.to_string_lossy().split(':').next().map(PathBuf::from))
        .or_else(|| set("XDG_STATE_HOME").map(|d| d.join("ivcrush")))
        .or_else(|| set("HOME").map(|h| h.join(".local/state/ivcrush")))
        .unwrap_or_else(|| PathBuf::from("."));
    format!("sqlite://{}", dir.join("ivcrush.db").display())
}

fn toml_string(cfg: &AppConfig) -> String {
    toml::to_string_pretty(cfg).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`; query strings dropped.
pub fn redact_url(url: &str) -> String {
    let no_query = url.split('?').next().unwrap_or(url);
    match (no_query.find("://"), no_query.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &no_query[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            if creds.contains(':') {
                format!("{}://{}:***@{}", &no_query[..s], user, &no_query[at + 1..])
            } else {
                no_query.to_string()
            }
        }
        _ => no_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        AppConfig::default().validate().expect("valid defaults");
    }

    #[test]
    fn all_problems_are_reported_together() {
        let mut c = AppConfig::default();
        c.scan.concurrency = 0;
        c.risk_free_rate = f64::NAN;
        c.analytics.score.weight_vrp = 0.9;
        let e = c.validate().expect_err("invalid");
        assert_eq!(e.problems.len(), 3, "{e}");
    }

    #[test]
    fn api_keys_are_redacted_in_show() {
        let mut c = AppConfig::default();
        c.tradier.api_key = "tr-secret".into();
        c.alphavantage.api_key = "av-secret".into();
        let s = c.show();
        assert!(!s.contains("tr-secret") && !s.contains("av-secret"), "{s}");
        assert!(s.contains("***"));
    }

    #[test]
    fn tradier_without_keys_reports_both_missing_keys() {
        let c = AppConfig {
            provider: ProviderKind::Tradier,
            ..AppConfig::default()
        };
        let e = c.validate().expect_err("keys missing");
        assert_eq!(e.problems.len(), 2, "{e}");
    }

    #[test]
    fn tradier_with_a_files_calendar_needs_no_alpha_vantage_key() {
        let mut c = AppConfig {
            provider: ProviderKind::Tradier,
            calendar_provider: Some(CalendarProviderKind::Files),
            ..AppConfig::default()
        };
        c.tradier.api_key = "k".into();
        c.validate().expect("valid without an Alpha Vantage key");
    }

    /// Leaf keys of a TOML table (`a.b.c`; an array is a leaf).
    fn leaf_keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) => leaf_keys(inner, &path, out),
                _ => out.push(path),
            }
        }
    }

    fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<LoadedConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("ivcrush.toml");
        std::fs::write(&file, text).expect("write");
        let sources = ConfigSources {
            file: Some(file),
            legacy_server_file: None,
        };
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        AppConfig::load_from(&sources, serde_json::json!({}), vars)
    }

    const EXAMPLE: &str = include_str!("../../../../ivcrush.toml.example");

    #[test]
    fn the_example_lists_every_key_config_show_prints_with_its_default() {
        let shown: toml::Table = toml::from_str(&AppConfig::default().show()).expect("show");
        let example: toml::Table = toml::from_str(EXAMPLE).expect("the example parses");
        let (mut shown_keys, mut example_keys) = (Vec::new(), Vec::new());
        leaf_keys(&shown, "", &mut shown_keys);
        leaf_keys(&example, "", &mut example_keys);
        let missing: Vec<&String> = shown_keys
            .iter()
            .filter(|k| !example_keys.contains(k))
            .collect();
        assert!(missing.is_empty(), "ivcrush.toml.example lacks {missing:?}");
        // Read as a configuration, the example is the defaults.
        let loaded = load_text(EXAMPLE, &[]).expect("the example is a valid configuration");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.config.show(), AppConfig::default().show());
    }

    #[test]
    fn configuration_text_loads_as_the_same_file_would() {
        let vars = [("IVCRUSH_SCAN__DAYS", "9"), ("IVCRUSH_SCNA__DAYS", "3")];
        let from_file = load_text(EXAMPLE, &vars).expect("the example as a file");
        let owned = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let from_text = AppConfig::load_from_text(EXAMPLE, serde_json::json!({}), owned)
            .expect("the example as text");
        assert_eq!(from_text.config.show(), from_file.config.show());
        assert_eq!(from_text.config.scan.days, 9);
        assert_eq!(from_text.warnings, from_file.warnings);
        let e = AppConfig::load_from_text("[scan]\nnope = 1\n", serde_json::json!({}), [])
            .expect_err("unknown key");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn the_default_database_is_in_the_state_directory_wherever_the_command_runs() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let home = env(&[("HOME", "/home/ann")]);
        assert_eq!(
            default_database_url(&home),
            "sqlite:///home/ann/.local/state/ivcrush/ivcrush.db"
        );
        let xdg = env(&[("HOME", "/home/ann"), ("XDG_STATE_HOME", "/data/state")]);
        assert_eq!(
            default_database_url(&xdg),
            "sqlite:///data/state/ivcrush/ivcrush.db"
        );
        let systemd = env(&[
            ("HOME", "/"),
            ("STATE_DIRECTORY", "/var/lib/ivcrush:/var/lib/other"),
        ]);
        assert_eq!(
            default_database_url(&systemd),
            "sqlite:///var/lib/ivcrush/ivcrush.db"
        );
        assert_eq!(default_database_url(&env(&[])), "sqlite://./ivcrush.db");
        // A URL given is used as given.
        let given = AppConfig {
            database_url: "postgres://db/ivcrush".into(),
            ..AppConfig::default()
        };
        assert_eq!(given.database(), "postgres://db/ivcrush");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_it() {
        let e = load_text("[scan]\nconcurency = 4\n", &[]).expect_err("unknown key");
        assert!(e.to_string().contains("concurency"), "{e}");
        let e = load_text("[server]\nport = 8080\n", &[]).expect_err("unknown key");
        assert!(e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn an_unknown_environment_variable_is_a_warning() {
        let loaded = load_text(
            "",
            &[
                ("IVCRUSH_PORT", "tcp://10.0.0.7:8080"),
                ("IVCRUSH_SERVICE_HOST", "10.0.0.7"),
                ("IVCRUSH_SCAN_DAYS", "3"),
                ("IVCRUSH_SCAN__CONCURRENCY", "4"),
                ("IVCRUSH_SERVER__BIND", "0.0.0.0:9000"),
            ],
        )
        .expect("loads despite unknown variables");
        assert_eq!(loaded.config.scan.concurrency, 4);
        assert_eq!(loaded.config.server.bind.port(), 9000);
        assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("IVCRUSH_SCAN_DAYS") && w.contains("IVCRUSH_SCAN__DAYS")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn cron_and_time_zone_are_checked_at_load_naming_the_key() {
        let e = load_text("[server]\nscan_cron = \"every day\"\n", &[]).expect_err("bad cron");
        assert!(e.to_string().contains("server.scan_cron"), "{e}");
        let e =
            load_text("[server]\nscan_timezone = \"Mars/Olympus\"\n", &[]).expect_err("bad zone");
        assert!(e.to_string().contains("server.scan_timezone"), "{e}");
    }

    #[test]
    fn server_keys_come_from_the_file_and_the_environment_and_show_redacted() {
        let loaded = load_text(
            "[server]\napi_keys = [\"file-key-0123456789\"]\n",
            &[
                (
                    "IVCRUSH_API_KEYS",
                    "env-key-0123456789ab, file-key-0123456789",
                ),
                ("REDIS_URL", "redis://user:hunter2@cache:6379"),
            ],
        )
        .expect("valid");
        assert_eq!(loaded.config.server.api_keys.len(), 2);
        let shown = loaded.config.show();
        for secret in ["file-key", "env-key", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        for secret in ["file-key", "env-key"] {
            assert!(!format!("{:?}", loaded.config).contains(secret));
        }
        assert!(
            shown.contains("api_keys = [\n    \"***\",\n    \"***\",\n]"),
            "{shown}"
        );
    }

    #[test]
    fn a_former_server_file_is_read_as_the_server_section_with_a_warning() {
        let dir = tempfile::tempdir().expect("temp dir");
        let legacy = dir.path().join("ivcrush-server.toml");
        std::fs::write(&legacy, "bind = \"0.0.0.0:9100\"\nscheduler = false\n").expect("write");
        let sources = ConfigSources {
            file: None,
            legacy_server_file: Some(legacy),
        };
        let loaded =
            AppConfig::load_from(&sources, serde_json::json!({}), Vec::new()).expect("valid");
        assert_eq!(loaded.config.server.bind.port(), 9100);
        assert!(!loaded.config.server.scheduler);
        assert!(
            loaded.warnings[0].contains("deprecated") && loaded.warnings[0].contains("[server]"),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/x?sslmode=require"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://ivcrush.db"), "sqlite://ivcrush.db");
    }
}
