//! Alert delivery to webhooks: each alert is POSTed as JSON to every configured endpoint,
//! signed with HMAC-SHA256, retried with backoff through the [`ivcrush_resilience`] pipeline,
//! and carries an idempotency key so that a receiver applies it at most once.
//!
//! # Use
//! Build one [`Notifier`] from [`WebhookSettings`] at start-up and give a clone to the task that
//! drains the alert outbox; call [`Notifier::deliver`] there, never on the scan's path (a
//! delivery may take up to `deadline_ms` while a receiver is down). Store the outbox row as
//! delivered on `Ok`, keep it for a later pass on an error whose
//! [`retry_later`](NotifyError::retry_later) is `true`, and dead-letter it otherwise. A
//! re-delivery must reuse the row's idempotency key.
//!
//! # Wire format
//! `POST <url>` with the alert's JSON as the body and these headers:
//!
//! | header | value |
//! |---|---|
//! | `Content-Type` | `application/json` |
//! | `Idempotency-Key` | the alert's key: the same on every retry and re-delivery |
//! | `X-Ivcrush-Event` | the alert kind |
//! | `X-Ivcrush-Timestamp` | Unix seconds when this attempt was signed (changes per attempt) |
//! | `X-Ivcrush-Signature` | `v1=` + lowercase hex of HMAC-SHA256(secret, signature base) |
//!
//! The **signature base** is the timestamp header's decimal text, a full stop, then the raw
//! body bytes: `"<timestamp>.<body>"`. Redirects are not followed; the answer's body is
//! ignored (at most `max_body_bytes` of it is read).
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | delivered |
//! | 408, 5xx, no answer, attempt timeout | retried (503: after its `Retry-After` if given) |
//! | 429 | retried after its `Retry-After` (which also holds back the endpoint's next deliveries) |
//! | 3xx, other 4xx | [`NotifyError::Permanent`], not retried |
//!
//! # Receiving
//! A receiver, with the shared secret, must:
//! 1. read the raw body bytes (before any JSON parsing);
//! 2. call [`verify`] (or do the same): the timestamp must be within a tolerance of its own
//!    clock (5 minutes is usual; a replay of an old request fails here, because the timestamp
//!    is signed), and one `v1=` entry of the signature header must equal the HMAC of
//!    `"<timestamp>.<body>"`, compared in constant time; answer 401 otherwise (a 4xx is never
//!    retried);
//! 3. dedupe on `Idempotency-Key`: remember the keys it accepted (for longer than the sender's
//!    retry horizon, a day is ample) and answer 2xx without acting again on a key it has seen.
//!    Retries after a lost answer, and re-deliveries from the outbox, carry the same key;
//! 4. answer 2xx quickly (within `timeout_ms`) and do slow work afterwards; answer 429 or 503
//!    with `Retry-After` to slow the sender down.
//!
//! ```
//! use ivcrush_notify::{sign, verify};
//!
//! let secret = b"0123456789abcdef0123";
//! let body = br#"{"kind":"iv_crush","symbol":"AAPL"}"#;
//! let header = sign(secret, 1_767_225_600, body);
//! assert!(header.starts_with("v1="));
//! assert!(verify(secret, "1767225600", &header, body, 1_767_225_630, 300).is_ok());
//! assert!(verify(secret, "1767225600", &header, b"{}", 1_767_225_630, 300).is_err());
//! ```
//!
//! # Resilience
//! Each endpoint has its own pipeline named `webhook:<name>` (breaker, retry budget,
//! bulkhead, attempt timeout): `max_attempts` attempts with full-jitter exponential backoff
//! from `backoff_base_ms` up to `backoff_cap_ms`, all within `deadline_ms`. Five consecutive
//! failures open the breaker for 60 s; deliveries then fail fast with
//! [`NotifyError::BreakerOpen`] without sending.
//!
//! # Secrets
//! Secrets live in [`secrecy::SecretString`], serialize as `"***"` and are never printed. A
//! webhook URL may carry a token in its userinfo, path or query: errors name the endpoint by
//! its name, and logs and `Debug` show only the URL's origin ([`redacted_url`]).
//!
//! # Metrics
//! `ivcrush_webhook_deliveries_total{endpoint,outcome}` with outcome `delivered`,
//! `permanent`, `gave_up` or `breaker_open` (created at 0 when the notifier is built); the
//! pipeline's own `ivcrush_retry_attempts_total{name="webhook:<name>"}` and breaker series.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod notifier;
mod settings;
mod signature;

pub use crate::error::NotifyError;
pub use crate::notifier::{
    Delivery, EVENT_HEADER, IDEMPOTENCY_KEY_HEADER, MAX_HEADER_VALUE_BYTES, Notifier, Receipt,
    SIGNATURE_HEADER, TIMESTAMP_HEADER, USER_AGENT, describe_metrics,
};
pub use crate::settings::{
    MAX_NAME_CHARS, MIN_SECRET_CHARS, SETTINGS_KEY, WebhookEndpoint, WebhookSettings, redacted_url,
};
pub use crate::signature::{SIGNATURE_VERSION, VerifyError, sign, verify};
pub use secrecy::SecretString;
