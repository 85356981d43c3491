//! Application configuration: `ivcrush.toml` (optional) < environment < flags, validated once
//! with every problem reported together. Secrets never appear in `show` output, logs or errors.

use crate::clock::AsOf;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ivcrush_core::AnalyticsConfig;
use ivcrush_market::{AlphaVantageConfig, TradierConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings { seed: 42 }
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

/// Cache time-to-live per endpoint, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// In-memory entries at most (10,000).
    pub max_entries: u64,
    /// Quotes (30 s).
    pub quotes_secs: u64,
    /// Expirations (7 days): also refreshed as soon as a listed expiry has passed or a listed
    /// expiry's chain comes back empty, so the list is never older than the market's.
    pub expirations_secs: u64,
    /// Chains (60 s).
    pub chains_secs: u64,
    /// Earnings calendar (12 h).
    pub calendar_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            max_entries: 10_000,
            quotes_secs: 30,
            expirations_secs: 7 * 24 * 3600,
            chains_secs: 60,
            calendar_secs: 12 * 3600,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Database URL: `sqlite://ivcrush.db` (default) or `postgres://…` (`DATABASE_URL`).
    pub database_url: String,
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
    /// Cache TTLs.
    pub cache: CacheSettings,
    /// Files provider.
    pub files: FilesSettings,
    /// Analytics thresholds and weights.
    pub analytics: AnalyticsConfig,
    /// Tradier (options, quotes, bars); key also from `TRADIER_API_KEY`.
    pub tradier: TradierConfig,
    /// Alpha Vantage (earnings calendar and past report dates with `--provider tradier`); key
    /// also from `ALPHAVANTAGE_API_KEY`.
    pub alphavantage: AlphaVantageConfig,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            database_url: "sqlite://ivcrush.db".to_string(),
            provider: ProviderKind::Sim,
            calendar_provider: None,
            as_of: None,
            risk_free_rate: 0.043,
            dividend_yield: 0.0,
            sim: SimSettings::default(),
            scan: ScanSettings::default(),
            cache: CacheSettings::default(),
            files: FilesSettings::default(),
            analytics: AnalyticsConfig::default(),
            tradier: TradierConfig::default(),
            alphavantage: AlphaVantageConfig::default(),
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

/// The vendors' conventional variables (`TRADIER_API_KEY`, `TRADIER_BASE_URL`,
/// `ALPHAVANTAGE_API_KEY`, `ALPHAVANTAGE_BASE_URL`) and `DATABASE_URL` as a partial
/// configuration (explicit, so that no prefix or case rule of a provider can drop them).
fn vendor_env() -> serde_json::Value {
    let mut root = serde_json::Map::new();
    if let Ok(v) = std::env::var("DATABASE_URL") {
        root.insert("database_url".into(), serde_json::Value::String(v));
    }
    for (section, prefix) in [("tradier", "TRADIER"), ("alphavantage", "ALPHAVANTAGE")] {
        let mut m = serde_json::Map::new();
        for (field, var) in [("api_key", "API_KEY"), ("base_url", "BASE_URL")] {
            if let Ok(v) = std::env::var(format!("{prefix}_{var}")) {
                m.insert(field.to_string(), serde_json::Value::String(v));
            }
        }
        if !m.is_empty() {
            root.insert(section.to_string(), serde_json::Value::Object(m));
        }
    }
    serde_json::Value::Object(root)
}

/// `IVCRUSH_*` variables that belong to other components (lower-case, prefix removed).
const FOREIGN_ENV_KEYS: [&str; 1] = ["api_keys"];

/// Default configuration file, read when present.
pub const DEFAULT_CONFIG_FILE: &str = "ivcrush.toml";

impl AppConfig {
    /// Loads defaults < `file` (or `./ivcrush.toml` when it exists) < environment (`IVCRUSH_*`,
    /// nested keys with `__`, e.g. `IVCRUSH_SCAN__CONCURRENCY`; and `DATABASE_URL`) < `overrides`
    /// (flags, as a partial serde value), then validates.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem (unreadable file, bad values, failed validation).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<AppConfig, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(AppConfig::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(ConfigError {
                        problems: vec![format!("config file {} does not exist", f.display())],
                    });
                }
                fig = fig.merge(Toml::file(f));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                fig = fig.merge(Toml::file(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        fig = fig
            // Variables read by other components (the HTTP server's keys) are not ours.
            .merge(Env::prefixed("IVCRUSH_").split("__").filter(|k| {
                !FOREIGN_ENV_KEYS
                    .iter()
                    .any(|f| k.as_str().eq_ignore_ascii_case(f))
            }))
            .merge(Serialized::defaults(vendor_env()))
            .merge(Serialized::defaults(overrides));
        let cfg: AppConfig = fig.extract().map_err(|e| ConfigError {
            problems: e.into_iter().map(|e| e.to_string()).collect(),
        })?;
        cfg.validate()?;
        Ok(cfg)
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
        if self.database_url.trim().is_empty() {
            p.push("database_url must not be empty".into());
        }
        if self.provider == ProviderKind::Tradier {
            if self.tradier.api_key.trim().is_empty() {
                p.push("provider tradier needs tradier.api_key (or TRADIER_API_KEY)".into());
            }
            if self.calendar_vendor() == Some(CalendarProviderKind::Alphavantage)
                && self.alphavantage.api_key.trim().is_empty()
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
        if p.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems: p })
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

    /// The configuration as TOML with secrets redacted (passwords in URLs, API keys).
    pub fn show(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url(&self.database_url);
        for key in [&mut shown.tradier.api_key, &mut shown.alphavantage.api_key] {
            if !key.is_empty() {
                *key = "***".into();
            }
        }
        toml_string(&shown)
    }
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

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/x?sslmode=require"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://ivcrush.db"), "sqlite://ivcrush.db");
    }
}
