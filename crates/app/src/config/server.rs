//! `[server]`: the HTTP service of `ivcrush serve` (formerly `ivcrush-server.toml`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use ivcrush_market::SecretString;
use ivcrush_market::secret::{ExposeSecret, serialize_redacted_list};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Environment variable with extra API keys, comma-separated (added to `server.api_keys`).
pub const API_KEYS_ENV: &str = "IVCRUSH_API_KEYS";
/// Environment variable with extra admin keys, comma-separated (added to `server.admin_keys`).
pub const ADMIN_KEYS_ENV: &str = "IVCRUSH_ADMIN_KEYS";
/// Shortest accepted API key.
pub const MIN_API_KEY_LEN: usize = 16;

/// A cron expression with seconds (`sec min hour day-of-month month day-of-week`), checked when
/// the configuration is read.
#[derive(Clone)]
pub struct CronSchedule(cron::Schedule);

impl CronSchedule {
    /// The parsed schedule.
    pub fn schedule(&self) -> &cron::Schedule {
        &self.0
    }
}

impl FromStr for CronSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        cron::Schedule::from_str(s)
            .map(CronSchedule)
            .map_err(|e| {
                // The parser's message draws a caret under the text: keep its last line.
                let e = e.to_string();
                let why = e.lines().last().unwrap_or_default().trim().to_owned();
                format!("{s:?} is not a cron expression with seconds (sec min hour day-of-month month day-of-week): {why}")
            })
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.source())
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.0.source() == other.0.source()
    }
}

impl Serialize for CronSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.source())
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone (`America/New_York`), checked when the configuration is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| format!("{s:?} is not an IANA time zone (e.g. America/New_York)"))
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Settings of the HTTP service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address (`127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// Accepted `X-API-Key` values (at least 16 characters each); also `IVCRUSH_API_KEYS`
    /// (comma-separated, added to these). Empty (the default): every `/api/*` request answers 401.
    /// These keys read: every `GET`; operating a breaker answers 403.
    #[serde(serialize_with = "serialize_redacted_list")]
    pub api_keys: Vec<SecretString>,
    /// Keys that also operate: `POST /api/v1/breakers/{name}/reset|force-open` (which can
    /// take the vendor path down). Also `IVCRUSH_ADMIN_KEYS`. Same rules as `api_keys`.
    #[serde(serialize_with = "serialize_redacted_list")]
    pub admin_keys: Vec<SecretString>,
    /// Origins allowed by CORS (e.g. `https://ops.example.com`). Empty (default): CORS off.
    pub cors_origins: Vec<String>,
    /// Requests per minute per client (API key, else IP) on `/api/*` (600).
    pub rate_limit_per_minute: u32,
    /// Requests a client may send at once before the per-minute pace applies (60, capped at
    /// `rate_limit_per_minute`).
    pub rate_limit_burst: u32,
    /// Whole-request timeout in milliseconds (30 000; 503 `timeout` after it).
    pub request_timeout_ms: u64,
    /// Largest accepted request body in bytes (65 536; 413 beyond).
    pub body_limit_bytes: usize,
    /// Connections served at once, per listener (1 024); beyond it new connections wait in
    /// the kernel's accept queue until one closes. Keep it below the unit's `LimitNOFILE`.
    pub max_connections: usize,
    /// Milliseconds a client has to send a request's headers, counted from the first byte
    /// (or, on a kept-alive connection, from the end of the previous answer) (10 000); then
    /// the connection is closed: a slow or idle client cannot hold a connection slot.
    pub header_read_timeout_ms: u64,
    /// Cron expression (with seconds) of the scheduled scan (`0 45 9 * * Mon-Fri`).
    pub scan_cron: CronSchedule,
    /// Time zone of `scan_cron` (`America/New_York`).
    pub scan_timezone: TimeZone,
    /// Run the scheduler at all (true).
    pub scheduler: bool,
    /// Run one scan at startup so the dashboard has data at once (true).
    pub scan_on_start: bool,
    /// How long an analysis served by `/api/v1/analyze/{ticker}` stays fresh, in seconds (300).
    pub analysis_ttl_secs: u64,
    /// A second listen address for the operator endpoints (`/health/*`, `/metrics`), which
    /// then leave `bind`: probes and scrapes stay on a private port. Unset (default): they
    /// are served on `bind`.
    pub admin_bind: Option<SocketAddr>,
    /// Seconds between the background vendor pings that `/health/ready` reports (30). A probe
    /// never calls a vendor: it reads the last ping.
    pub vendor_check_secs: u64,
    /// Seconds in-flight requests get after SIGTERM/SIGINT before the process exits anyway (10):
    /// a hung vendor call must not hold a deploy or a restart.
    pub shutdown_grace_secs: u64,
    /// Days of stored analyses kept: once a day `serve` deletes older ones, as `ivcrush db
    /// prune --older-than N` does (history, bars and report dates are never deleted). 0
    /// (default): keep everything.
    pub retention_days: u32,
    /// Relay the live implied moves that `ivcrush ticker` publishes (to `ticker.redis`, under
    /// `ticker.key_prefix`) at `GET /api/v1/stream/implied` and on the dashboard (false: that
    /// route answers 503).
    pub live_implied: bool,
    /// Most live streams open at once (256); beyond, 503.
    pub live_streams: usize,
    /// Hand `serve`'s scans (at start, scheduled, on demand) to `ivcrush worker` processes
    /// through the job queue at `jobs.redis`, and gather their results from the database the
    /// workers share (false: scan in process).
    pub distributed_scans: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: Vec::new(),
            admin_keys: Vec::new(),
            cors_origins: Vec::new(),
            rate_limit_per_minute: 600,
            rate_limit_burst: 60,
            request_timeout_ms: 30_000,
            body_limit_bytes: 64 * 1024,
            max_connections: 1024,
            header_read_timeout_ms: 10_000,
            scan_cron: CronSchedule(
                cron::Schedule::from_str("0 45 9 * * Mon-Fri")
                    .unwrap_or_else(|_| unreachable!("the default cron expression parses")),
            ),
            scan_timezone: TimeZone(chrono_tz::America::New_York),
            scheduler: true,
            scan_on_start: true,
            analysis_ttl_secs: 300,
            admin_bind: None,
            vendor_check_secs: 30,
            shutdown_grace_secs: 10,
            retention_days: 0,
            live_implied: false,
            distributed_scans: false,
            live_streams: 256,
        }
    }
}

/// Adds the comma-separated keys of `list` to `keys` (blank entries and duplicates dropped).
fn add_to(keys: &mut Vec<SecretString>, list: &str) {
    for k in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|x| x.expose_secret() == k) {
            keys.push(SecretString::from(k));
        }
    }
}

impl ServerSettings {
    /// Adds the comma-separated keys of `list` (blank entries and duplicates dropped).
    pub fn add_keys(&mut self, list: &str) {
        add_to(&mut self.api_keys, list);
    }

    /// Adds the comma-separated admin keys of `list` (blank entries and duplicates dropped).
    pub fn add_admin_keys(&mut self, list: &str) {
        add_to(&mut self.admin_keys, list);
    }

    /// Every problem, each naming its key (never a key's value).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (list, keys) in [
            ("api_keys", &self.api_keys),
            ("admin_keys", &self.admin_keys),
        ] {
            for (i, k) in keys.iter().enumerate() {
                let k = k.expose_secret();
                if k.len() < MIN_API_KEY_LEN {
                    p.push(format!(
                        "server.{list}[{i}] is shorter than {MIN_API_KEY_LEN} characters"
                    ));
                }
                if !k.bytes().all(|b| b.is_ascii_graphic()) {
                    p.push(format!(
                        "server.{list}[{i}] must be printable ASCII without spaces"
                    ));
                }
            }
        }
        for (i, k) in self.admin_keys.iter().enumerate() {
            if self
                .api_keys
                .iter()
                .any(|a| a.expose_secret() == k.expose_secret())
            {
                p.push(format!(
                    "server.admin_keys[{i}] is also a read-only key in server.api_keys: one key, one role"
                ));
            }
        }
        for o in &self.cors_origins {
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && o.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                p.push(format!(
                    "server.cors_origins: {o:?} is not an http(s) origin"
                ));
            }
        }
        for (key, value) in [
            (
                "rate_limit_per_minute",
                u64::from(self.rate_limit_per_minute),
            ),
            ("rate_limit_burst", u64::from(self.rate_limit_burst)),
            ("request_timeout_ms", self.request_timeout_ms),
            ("body_limit_bytes", self.body_limit_bytes as u64),
            ("max_connections", self.max_connections as u64),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("vendor_check_secs", self.vendor_check_secs),
            ("live_streams", self.live_streams as u64),
        ] {
            if value == 0 {
                p.push(format!("server.{key} must be at least 1"));
            }
        }
        if self.admin_bind == Some(self.bind) && self.bind.port() != 0 {
            p.push(format!(
                "server.admin_bind must differ from server.bind ({})",
                self.bind
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_closed() {
        let c = ServerSettings::default();
        assert!(c.problems().is_empty());
        assert!(c.api_keys.is_empty() && c.cors_origins.is_empty());
        assert_eq!(format!("{:?}", c.scan_cron), "0 45 9 * * Mon-Fri");
    }

    #[test]
    fn every_problem_is_reported_without_the_key() {
        let c = ServerSettings {
            api_keys: vec![SecretString::from("short secret")],
            rate_limit_per_minute: 0,
            cors_origins: vec!["*".into()],
            ..ServerSettings::default()
        };
        let p = c.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().all(|m| m.starts_with("server.")), "{p:?}");
        assert!(!format!("{p:?}").contains("short secret"));
        assert!(!format!("{c:?}").contains("short secret"));
    }

    #[test]
    fn keys_from_a_list_are_trimmed_and_deduplicated() {
        let mut c = ServerSettings::default();
        c.add_keys(" aaaaaaaaaaaaaaaa, ,bbbbbbbbbbbbbbbb,aaaaaaaaaaaaaaaa");
        assert_eq!(c.api_keys.len(), 2);
    }

    #[test]
    fn cron_and_time_zone_are_checked_when_read() {
        let e = toml::from_str::<ServerSettings>("scan_cron = \"nonsense\"").expect_err("bad");
        assert!(e.to_string().contains("cron"), "{e}");
        let e =
            toml::from_str::<ServerSettings>("scan_timezone = \"Mars/Olympus\"").expect_err("bad");
        assert!(e.to_string().contains("time zone"), "{e}");
        let c: ServerSettings =
            toml::from_str("scan_timezone = \"Europe/Paris\"\nbind = \"0.0.0.0:9000\"")
                .expect("parses");
        assert_eq!(c.scan_timezone.0, chrono_tz::Europe::Paris);
        assert_eq!(c.bind.port(), 9000);
    }
}
