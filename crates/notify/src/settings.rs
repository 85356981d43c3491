//! Webhook settings (`[alerts.webhooks]`), readable from TOML/JSON through serde.

use std::collections::HashSet;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// The key under which the lead's configuration mounts [`WebhookSettings`]; it prefixes every
/// line of [`WebhookSettings::problems`].
pub const SETTINGS_KEY: &str = "alerts.webhooks";

/// Shortest accepted secret, in characters: 16 random characters are ~96 bits of key at the
/// least, and a short secret is usually a placeholder left in a template.
pub const MIN_SECRET_CHARS: usize = 16;

/// Longest accepted endpoint name. Names are metric labels and breaker names, so they are
/// kept short and to a fixed alphabet.
pub const MAX_NAME_CHARS: usize = 64;

/// Webhook delivery settings. Every field has a default; no endpoint is configured by
/// default, and then nothing is delivered.
///
/// ```toml
/// [alerts.webhooks]
/// timeout_ms = 5000
/// endpoints = [
///   { name = "ops", url = "https://hooks.example.com/ivcrush", secret = "at least 16 chars" },
/// ]
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where alerts go; each alert is delivered to every endpoint.
    pub endpoints: Vec<WebhookEndpoint>,
    /// Timeout of one attempt (connect, send, status and the bounded read of the answer), in
    /// ms. Default 5 000.
    pub timeout_ms: u64,
    /// Attempts per delivery, the first included (1 = no retry). Default 5.
    pub max_attempts: u32,
    /// Backoff before the first retry, before full jitter, in ms; it doubles per retry.
    /// Default 500.
    pub backoff_base_ms: u64,
    /// Largest backoff in ms. Default 30 000.
    pub backoff_cap_ms: u64,
    /// Overall time of one delivery, retries and `Retry-After` waits included, in ms; a
    /// receiver asking to wait longer makes the delivery give up (the outbox tries again
    /// later). Default 120 000.
    pub deadline_ms: u64,
    /// Most bytes of a receiver's answer read (the answer is only drained so the connection can
    /// be reused, and its start logged on errors); the rest is never read. Default 65 536.
    pub max_body_bytes: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            endpoints: Vec::new(),
            timeout_ms: 5_000,
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_cap_ms: 30_000,
            deadline_ms: 120_000,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// One receiver of alerts.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// Short unique name (`[A-Za-z0-9_.-]`, at most 64): the `endpoint` label of the metrics,
    /// the breaker `webhook:<name>`, and how errors and logs refer to the endpoint (never by
    /// URL, whose path or query may carry a token).
    pub name: String,
    /// `http://` or `https://` URL the alerts are POSTed to. Redirects are not followed.
    pub url: String,
    /// Key of the HMAC-SHA256 signature, shared with the receiver (at least 16 characters).
    /// Serialized as `"***"`; never printed.
    #[serde(default = "empty_secret", serialize_with = "serialize_redacted")]
    pub secret: SecretString,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

/// `"***"` for a set secret, `""` for an unset one: what `config show` may print.
fn serialize_redacted<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.expose_secret().is_empty() {
        ""
    } else {
        "***"
    })
}

impl WebhookEndpoint {
    /// An endpoint (tests, programmatic configuration).
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        secret: impl Into<String>,
    ) -> WebhookEndpoint {
        WebhookEndpoint {
            name: name.into(),
            url: url.into(),
            secret: SecretString::from(secret.into()),
        }
    }
}

impl fmt::Debug for WebhookEndpoint {
    /// Name and URL origin only: the URL's userinfo, path and query may carry a token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("name", &self.name)
            .field("url", &redacted_url(&self.url))
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl PartialEq for WebhookEndpoint {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.url == other.url
            && self.secret.expose_secret() == other.secret.expose_secret()
    }
}

impl Eq for WebhookEndpoint {}

/// What of a webhook URL may be shown: its origin (`https://hooks.example.com:8443`), without
/// userinfo, path or query, any of which may carry a token (Slack-style URLs keep theirs in
/// the path). An unparsable URL shows as `<invalid url>`.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => parsed.origin().ascii_serialization(),
        _ => "<invalid url>".to_owned(),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl WebhookSettings {
    /// Every invalid setting, one line each, named by its key under [`SETTINGS_KEY`]
    /// (`alerts.webhooks.endpoints[0].url must be http(s)...`); empty when valid. No line
    /// contains a secret or more of a URL than [`redacted_url`] shows.
    pub fn problems(&self) -> Vec<String> {
        self.problems_at(SETTINGS_KEY)
    }

    /// [`problems`](Self::problems) with another key prefix (settings mounted elsewhere).
    pub fn problems_at(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.timeout_ms == 0 {
            problems.push(format!("{prefix}.timeout_ms must be > 0"));
        }
        if self.max_attempts == 0 {
            problems.push(format!(
                "{prefix}.max_attempts must be at least 1 (1 = no retry)"
            ));
        }
        if self.backoff_base_ms == 0 {
            problems.push(format!("{prefix}.backoff_base_ms must be > 0"));
        }
        if self.backoff_cap_ms < self.backoff_base_ms {
            problems.push(format!(
                "{prefix}.backoff_cap_ms must be >= backoff_base_ms ({})",
                self.backoff_base_ms
            ));
        }
        if self.deadline_ms < self.timeout_ms {
            problems.push(format!(
                "{prefix}.deadline_ms must be >= timeout_ms ({})",
                self.timeout_ms
            ));
        }
        if self.max_body_bytes == 0 {
            problems.push(format!("{prefix}.max_body_bytes must be > 0"));
        }
        let mut seen = HashSet::new();
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let key = format!("{prefix}.endpoints[{i}]");
            if !valid_name(&endpoint.name) {
                problems.push(format!(
                    "{key}.name must be 1 to {MAX_NAME_CHARS} characters of A-Z, a-z, 0-9, '_', '.', '-', got {:?}",
                    endpoint.name.chars().take(MAX_NAME_CHARS + 1).collect::<String>()
                ));
            } else if !seen.insert(endpoint.name.as_str()) {
                problems.push(format!(
                    "{key}.name {:?} is used by an earlier endpoint; names must be unique",
                    endpoint.name
                ));
            }
            match reqwest::Url::parse(&endpoint.url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
                Ok(url) => problems.push(format!(
                    "{key}.url must be http(s) with a host, got a {:?} URL",
                    url.scheme()
                )),
                // The parser's message never echoes the input.
                Err(e) => problems.push(format!("{key}.url must be http(s): {e}")),
            }
            let secret = endpoint.secret.expose_secret();
            if secret.trim().is_empty() {
                problems.push(format!("{key}.secret must be set"));
            } else if secret.chars().count() < MIN_SECRET_CHARS {
                problems.push(format!(
                    "{key}.secret must be at least {MIN_SECRET_CHARS} characters"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = WebhookSettings::default();
        assert!(s.endpoints.is_empty());
        assert_eq!(
            (
                s.timeout_ms,
                s.max_attempts,
                s.backoff_base_ms,
                s.backoff_cap_ms
            ),
            (5_000, 5, 500, 30_000)
        );
        assert_eq!(s.max_body_bytes, 65_536);
        assert!(s.problems().is_empty());
    }

    #[test]
    fn every_problem_is_named_by_key_without_secrets_or_tokens() {
        let settings = WebhookSettings {
            endpoints: vec![
                WebhookEndpoint::new(
                    "ops",
                    "ftp://user:pw@example.com/x?token=T0KEN",
                    "short-secret",
                ),
                WebhookEndpoint::new("ops", "not a url token=T0KEN", ""),
                WebhookEndpoint::new(
                    "bad name!",
                    "https://ok.example.com/hook",
                    "a-long-enough-secret",
                ),
            ],
            timeout_ms: 0,
            max_attempts: 0,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 10,
            deadline_ms: 0,
            max_body_bytes: 0,
        };
        let problems = settings.problems();
        let text = problems.join("\n");
        for expected in [
            "alerts.webhooks.timeout_ms must be > 0",
            "alerts.webhooks.max_attempts must be at least 1",
            "alerts.webhooks.backoff_cap_ms must be >= backoff_base_ms",
            "alerts.webhooks.max_body_bytes must be > 0",
            "alerts.webhooks.endpoints[0].url must be http(s)",
            "alerts.webhooks.endpoints[0].secret must be at least 16 characters",
            "alerts.webhooks.endpoints[1].name \"ops\" is used by an earlier endpoint",
            "alerts.webhooks.endpoints[1].url must be http(s)",
            "alerts.webhooks.endpoints[1].secret must be set",
            "alerts.webhooks.endpoints[2].name must be",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert_eq!(problems.len(), 10, "{text}");
        for leak in ["short-secret", "T0KEN", "pw@", "a-long-enough-secret"] {
            assert!(!text.contains(leak), "{leak} leaked in\n{text}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_or_serialization() {
        let settings = WebhookSettings {
            endpoints: vec![WebhookEndpoint::new(
                "ops",
                "https://u:p@hooks.example.com/services/T0KEN?key=T0KEN",
                "super-secret-value-123",
            )],
            ..WebhookSettings::default()
        };
        let debug = format!("{settings:?}");
        let json = serde_json::to_string(&settings).unwrap_or_default();
        for text in [&debug, &json] {
            assert!(!text.contains("super-secret-value-123"), "{text}");
        }
        assert!(!debug.contains("T0KEN"), "{debug}");
        assert!(debug.contains("https://hooks.example.com"), "{debug}");
        assert!(json.contains(r#""secret":"***""#), "{json}");
    }

    #[test]
    fn settings_read_from_toml_and_refuse_unknown_keys() {
        let text = r#"
            timeout_ms = 2000
            endpoints = [{ name = "ops", url = "https://hooks.example.com/x", secret = "0123456789abcdef" }]
        "#;
        let settings: WebhookSettings = match toml::from_str(text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(settings.timeout_ms, 2_000);
        assert_eq!(settings.max_attempts, 5);
        assert_eq!(
            settings.endpoints[0].secret.expose_secret(),
            "0123456789abcdef"
        );
        assert!(settings.problems().is_empty());
        assert!(toml::from_str::<WebhookSettings>("timeout = 1").is_err());
        assert!(
            toml::from_str::<WebhookSettings>(
                r#"endpoints = [{ name = "a", url = "https://x", secret = "0123456789abcdef", extra = 1 }]"#
            )
            .is_err()
        );
    }
}
