//! Secrets in configuration: held in [`SecretString`] (whose `Debug` prints `[REDACTED]`) and
//! serialized as `"***"` (or `""` when unset), so no rendering of a configuration — `Debug`,
//! `config show`, logs — can carry a key.

use serde::Serializer;
use serde::ser::SerializeSeq;

pub use secrecy::{ExposeSecret, SecretString};

/// What a set secret serializes to.
pub const REDACTED: &str = "***";

fn shown(secret: &SecretString) -> &'static str {
    if secret.expose_secret().is_empty() {
        ""
    } else {
        REDACTED
    }
}

/// `serialize_with` for a [`SecretString`]: `"***"`, or `""` when unset.
///
/// # Errors
/// The serializer's.
pub fn serialize_redacted<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(shown(secret))
}

/// `serialize_with` for a list of secrets: each one `"***"`.
///
/// # Errors
/// The serializer's.
pub fn serialize_redacted_list<S: Serializer>(
    secrets: &[SecretString],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(secrets.len()))?;
    for secret in secrets {
        seq.serialize_element(shown(secret))?;
    }
    seq.end()
}

/// `true` when the secret is unset or blank.
pub fn is_blank(secret: &SecretString) -> bool {
    secret.expose_secret().trim().is_empty()
}
