//! Server configuration: defaults < TOML file < `IVCRUSH_API_KEYS` < flags, validated with
//! every problem reported at once. API keys never appear in `Debug` output.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

/// Environment variable with extra API keys, comma-separated.
pub const API_KEYS_ENV: &str = "IVCRUSH_API_KEYS";
/// Server configuration file read when present and no `--server-config` is given.
pub const DEFAULT_SERVER_CONFIG_FILE: &str = "ivcrush-server.toml";
/// Shortest accepted API key.
pub const MIN_API_KEY_LEN: usize = 16;

/// Settings of the HTTP service (TOML keys are the field names).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// Accepted `X-API-Key` values (at least 16 characters each); also `IVCRUSH_API_KEYS`.
    /// Empty (the default): every `/api/*` request answers 401.
    pub api_keys: Vec<String>,
    /// Origins allowed by CORS (e.g. `https://ops.example.com`). Default empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Requests per minute per client (API key, else IP) on `/api/*`. Default 600.
    pub rate_limit_per_minute: u32,
    /// Requests a client may send at once before the per-minute pace applies. Default 60
    /// (capped at `rate_limit_per_minute`).
    pub rate_limit_burst: u32,
    /// Whole-request timeout in milliseconds (503 `timeout` after it). Default 30 000.
    pub request_timeout_ms: u64,
    /// Largest accepted request body in bytes (413 beyond). Default 65 536.
    pub body_limit_bytes: usize,
    /// Cron expression (with seconds) of the scheduled scan. Default `0 45 9 * * Mon-Fri`.
    pub scan_cron: String,
    /// Time zone of `scan_cron`. Default `America/New_York`.
    pub scan_timezone: String,
    /// Run the scheduler at all. Default true.
    pub scheduler: bool,
    /// Run one scan at startup so the dashboard has data at once. Default true.
    pub scan_on_start: bool,
    /// How long an analysis served by `/api/v1/analyze/{ticker}` stays fresh, in seconds.
    /// Default 300.
    pub analysis_ttl_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: Vec::new(),
            cors_origins: Vec::new(),
            rate_limit_per_minute: 600,
            rate_limit_burst: 60,
            request_timeout_ms: 30_000,
            body_limit_bytes: 64 * 1024,
            scan_cron: "0 45 9 * * Mon-Fri".to_string(),
            scan_timezone: "America/New_York".to_string(),
            scheduler: true,
            scan_on_start: true,
            analysis_ttl_secs: 300,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("cors_origins", &self.cors_origins)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("scan_cron", &self.scan_cron)
            .field("scan_timezone", &self.scan_timezone)
            .field("scheduler", &self.scheduler)
            .field("scan_on_start", &self.scan_on_start)
            .field("analysis_ttl_secs", &self.analysis_ttl_secs)
            .finish()
    }
}

/// Every problem found in the server configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("server configuration has {} problem(s):\n  - {}", .problems.len(), .problems.join("\n  - "))]
pub struct ServerConfigError {
    /// One line per problem, naming the setting (never a key's value).
    pub problems: Vec<String>,
}

impl ServerConfig {
    /// Loads defaults < `file` (or `./ivcrush-server.toml` when present) < keys from
    /// `IVCRUSH_API_KEYS` (added to the file's), then validates.
    ///
    /// # Errors
    /// [`ServerConfigError`] listing every problem.
    pub fn load(file: Option<&Path>) -> Result<ServerConfig, ServerConfigError> {
        let mut cfg = match file {
            Some(f) => Self::from_file(f)?,
            None if Path::new(DEFAULT_SERVER_CONFIG_FILE).exists() => {
                Self::from_file(Path::new(DEFAULT_SERVER_CONFIG_FILE))?
            }
            None => ServerConfig::default(),
        };
        if let Ok(list) = std::env::var(API_KEYS_ENV) {
            cfg.add_keys(&list);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<ServerConfig, ServerConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerConfigError {
            problems: vec![format!("cannot read {}: {e}", path.display())],
        })?;
        toml::from_str(&text).map_err(|e| ServerConfigError {
            problems: vec![format!("{}: {}", path.display(), e.message())],
        })
    }

    /// Adds the comma-separated keys of `list` (blank entries and duplicates dropped).
    pub fn add_keys(&mut self, list: &str) {
        for k in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if !self.api_keys.iter().any(|x| x == k) {
                self.api_keys.push(k.to_string());
            }
        }
    }

    /// Checks every setting; all problems at once.
    ///
    /// # Errors
    /// [`ServerConfigError`] with one line per problem.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        let mut p = Vec::new();
        for (i, k) in self.api_keys.iter().enumerate() {
            if k.len() < MIN_API_KEY_LEN {
                p.push(format!(
                    "api_keys[{i}] is shorter than {MIN_API_KEY_LEN} characters"
                ));
            }
            if !k.bytes().all(|b| b.is_ascii_graphic()) {
                p.push(format!(
                    "api_keys[{i}] must be printable ASCII without spaces"
                ));
            }
        }
        for o in &self.cors_origins {
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && axum::http::HeaderValue::from_str(o).is_ok();
            if !ok {
                p.push(format!("cors_origins: {o:?} is not an http(s) origin"));
            }
        }
        if self.rate_limit_per_minute == 0 {
            p.push("rate_limit_per_minute must be at least 1".into());
        }
        if self.rate_limit_burst == 0 {
            p.push("rate_limit_burst must be at least 1".into());
        }
        if self.request_timeout_ms == 0 {
            p.push("request_timeout_ms must be at least 1".into());
        }
        if self.body_limit_bytes == 0 {
            p.push("body_limit_bytes must be at least 1".into());
        }
        if let Err(e) = cron::Schedule::from_str(&self.scan_cron) {
            p.push(format!("scan_cron {:?}: {e}", self.scan_cron));
        }
        if self.scan_timezone.parse::<chrono_tz::Tz>().is_err() {
            p.push(format!(
                "scan_timezone {:?} is not a time zone",
                self.scan_timezone
            ));
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(ServerConfigError { problems: p })
        }
    }

    pub(crate) fn schedule(&self) -> Option<(cron::Schedule, chrono_tz::Tz)> {
        let s = cron::Schedule::from_str(&self.scan_cron).ok()?;
        let tz = self.scan_timezone.parse().ok()?;
        Some((s, tz))
    }
}

/// Flags of `ivcrush serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Listen address (default 127.0.0.1:8080, or `bind` in the server config).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Server configuration file (TOML; default ./ivcrush-server.toml when present).
    /// API keys also come from IVCRUSH_API_KEYS (comma-separated).
    #[arg(long, value_name = "FILE")]
    pub server_config: Option<PathBuf>,
    /// Allow this CORS origin (repeatable; CORS is off by default).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests per minute per client on /api/* (default 600).
    #[arg(long, value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Cron expression of the scheduled scan, with seconds (default "0 45 9 * * Mon-Fri",
    /// America/New_York).
    #[arg(long, value_name = "CRON")]
    pub scan_cron: Option<String>,
    /// Do not run the in-process scan scheduler.
    #[arg(long)]
    pub no_scheduler: bool,
}

impl ServeArgs {
    /// The server configuration: file and environment, then these flags, validated.
    ///
    /// # Errors
    /// [`ServerConfigError`] listing every problem.
    pub fn server_config(&self) -> Result<ServerConfig, ServerConfigError> {
        let mut cfg = ServerConfig::load(self.server_config.as_deref())?;
        if let Some(b) = self.bind {
            cfg.bind = b;
        }
        cfg.cors_origins.extend(self.cors_origins.iter().cloned());
        if let Some(n) = self.rate_limit_per_minute {
            cfg.rate_limit_per_minute = n;
        }
        if let Some(c) = &self.scan_cron {
            cfg.scan_cron.clone_from(c);
        }
        if self.no_scheduler {
            cfg.scheduler = false;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_closed() {
        let c = ServerConfig::default();
        assert!(c.validate().is_ok());
        assert!(c.api_keys.is_empty());
        assert!(c.cors_origins.is_empty());
    }

    #[test]
    fn every_problem_is_reported_without_the_key() {
        let c = ServerConfig {
            api_keys: vec!["short-secret".into()],
            rate_limit_per_minute: 0,
            scan_cron: "nonsense".into(),
            scan_timezone: "Mars/Olympus".into(),
            cors_origins: vec!["*".into()],
            ..ServerConfig::default()
        };
        let e = c.validate().expect_err("invalid");
        assert_eq!(e.problems.len(), 5, "{e}");
        assert!(!e.to_string().contains("short-secret"));
        assert!(!format!("{c:?}").contains("short-secret"));
    }

    #[test]
    fn keys_from_a_list_are_trimmed_and_deduplicated() {
        let mut c = ServerConfig::default();
        c.add_keys(" aaaaaaaaaaaaaaaa, ,bbbbbbbbbbbbbbbb,aaaaaaaaaaaaaaaa");
        assert_eq!(c.api_keys.len(), 2);
    }

    #[test]
    fn a_toml_file_sets_fields_by_name() {
        let c: ServerConfig = toml::from_str(
            "bind = \"0.0.0.0:9000\"\nrate_limit_per_minute = 5\nscheduler = false\n",
        )
        .expect("parses");
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.rate_limit_per_minute, 5);
        assert!(!c.scheduler);
    }

    #[test]
    fn the_example_file_parses_and_is_valid() {
        let c: ServerConfig =
            toml::from_str(include_str!("../ivcrush-server.toml.example")).expect("parses");
        assert_eq!(c, ServerConfig::default());
    }

    #[test]
    fn flags_override_the_file_and_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let cli = Cli::parse_from([
            "serve",
            "--bind",
            "127.0.0.1:9999",
            "--cors-origin",
            "https://ops.example",
            "--rate-limit-per-minute",
            "30",
            "--no-scheduler",
        ]);
        let dir = std::env::temp_dir().join(format!("ivcrush-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("server.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:1\"\nrate_limit_per_minute = 5\n").expect("write");
        let args = ServeArgs {
            server_config: Some(file),
            ..cli.serve
        };
        let c = args.server_config().expect("valid");
        assert_eq!(c.bind.port(), 9999);
        assert_eq!(c.rate_limit_per_minute, 30);
        assert_eq!(c.cors_origins, vec!["https://ops.example".to_string()]);
        assert!(!c.scheduler);
        let _ = std::fs::remove_dir_all(dir);
    }
}
