//! The signature of a delivery: `v1=` + lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"`.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The version tag of the only signature scheme; a receiver ignores entries of other versions,
/// so a future scheme can be sent next to this one.
pub const SIGNATURE_VERSION: &str = "v1";

/// The MAC over the signature base string `"<timestamp>.<body>"`. Binding the timestamp into
/// the MAC is what makes the receiver's staleness check meaningful: a replayed body cannot be
/// given a fresh timestamp without the secret.
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed), so this cannot fail; the
    // fallback only exists because the trait's signature is fallible.
    let mut mac =
        HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Ivcrush-Signature` header value for `body` sent at `timestamp` (Unix seconds):
/// `v1=<64 lowercase hex digits>`, the HMAC-SHA256 keyed with `secret` of
/// `"<timestamp>.<body>"` (the decimal timestamp, a full stop, the raw body bytes).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("{SIGNATURE_VERSION}={}", hex::encode(tag))
}

/// Why [`verify`] refused a delivery. The messages never contain the secret or the expected
/// signature (which would let a prober forge one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is not a decimal number of Unix seconds.
    #[error("X-Ivcrush-Timestamp is not a Unix timestamp in seconds")]
    MalformedTimestamp,
    /// The signature header holds no `v1=<64 hex digits>` entry.
    #[error("X-Ivcrush-Signature has no v1=<hex HMAC-SHA256> entry")]
    MalformedSignature,
    /// The timestamp is further than the tolerance from the receiver's clock (a replay, or a
    /// clock far off).
    #[error(
        "X-Ivcrush-Timestamp is {age_secs} s from now, beyond the tolerance of {tolerance_secs} s"
    )]
    Stale {
        /// `now - timestamp` (negative: from the future).
        age_secs: i64,
        /// The tolerance that was applied.
        tolerance_secs: i64,
    },
    /// No signature matches the body and timestamp under this secret.
    #[error("signature mismatch: wrong secret, or the body or timestamp was altered")]
    Mismatch,
}

/// Checks a received delivery as a receiver must, before parsing the body:
///
/// 1. `timestamp_header` parses as Unix seconds and lies within `tolerance_secs` of `now_unix`
///    (either direction), else [`VerifyError::Stale`];
/// 2. one `v1=<hex>` entry of `signature_header` (entries may be separated by commas, so a
///    sender rotating its secret can send two) equals [`sign`]`(secret, timestamp, body)`,
///    compared in constant time, else [`VerifyError::Mismatch`].
///
/// `body` must be the raw bytes received, not a re-serialization of the parsed JSON.
///
/// # Errors
/// [`VerifyError`] saying which check failed.
pub fn verify(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    let tags: Vec<Vec<u8>> = signature_header
        .split(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, tag)| hex::decode(tag.trim()).ok())
        .filter(|tag| tag.len() == 32)
        .collect();
    if tags.is_empty() {
        return Err(VerifyError::MalformedSignature);
    }
    let age_secs = now_unix.saturating_sub(timestamp);
    if age_secs.unsigned_abs() > tolerance_secs.unsigned_abs() {
        return Err(VerifyError::Stale {
            age_secs,
            tolerance_secs,
        });
    }
    let expected = mac(secret, timestamp, body);
    if tags
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef-test-secret";

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // Computed independently: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac '0123456789abcdef-test-secret'
        // (the same with Python's hmac module).
        assert_eq!(
            sign(SECRET, 1_700_000_000, br#"{"a":1}"#),
            "v1=4b920c71aed49854d1b6a9969fa5afcdca1733ceb8df4f49ea395c3da17ca179"
        );
    }

    #[test]
    fn sign_and_verify_round_trip_over_many_inputs() {
        // A small deterministic generator instead of proptest: bodies of every length 0..300
        // with varied bytes, secrets of varied lengths (including longer than a SHA-256
        // block, which HMAC hashes first), timestamps on both sides of zero.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..300usize {
            let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let secret: Vec<u8> = (0..(next() % 100) as usize).map(|_| next() as u8).collect();
            let timestamp = (next() % 4_000_000_000) as i64 - 1_000_000_000;
            let signature = sign(&secret, timestamp, &body);
            assert_eq!(
                verify(
                    &secret,
                    &timestamp.to_string(),
                    &signature,
                    &body,
                    timestamp,
                    0
                ),
                Ok(()),
                "len {len}"
            );
            if !body.is_empty() {
                let mut tampered = body.clone();
                tampered[len / 2] ^= 1;
                assert_eq!(
                    verify(
                        &secret,
                        &timestamp.to_string(),
                        &signature,
                        &tampered,
                        timestamp,
                        0
                    ),
                    Err(VerifyError::Mismatch)
                );
            }
            let other = sign(&secret, timestamp + 1, &body);
            assert_ne!(signature, other, "the timestamp is signed");
        }
    }

    #[test]
    fn a_rotating_sender_may_send_several_signatures() {
        let body = b"{}";
        let header = format!(
            "{}, {}",
            sign(b"old-secret-0123456", 5, body),
            sign(SECRET, 5, body)
        );
        assert_eq!(verify(SECRET, "5", &header, body, 5, 10), Ok(()));
        assert_eq!(
            verify(b"third-secret-01234", "5", &header, body, 5, 10),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let signature = sign(SECRET, 5, b"{}");
        assert_eq!(
            verify(SECRET, "five", &signature, b"{}", 5, 10),
            Err(VerifyError::MalformedTimestamp)
        );
        for header in ["", "v1=zz", "v2=00", "v1=abcd", "sha256=00"] {
            assert_eq!(
                verify(SECRET, "5", header, b"{}", 5, 10),
                Err(VerifyError::MalformedSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_stale_in_both_directions() {
        let signature = sign(SECRET, 1_000, b"{}");
        assert_eq!(
            verify(SECRET, "1000", &signature, b"{}", 1_300, 300),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, "1000", &signature, b"{}", 1_301, 300),
            Err(VerifyError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            verify(SECRET, "1000", &signature, b"{}", 600, 300),
            Err(VerifyError::Stale { age_secs: -400, .. })
        ));
        // Extreme values saturate instead of overflowing.
        assert!(matches!(
            verify(
                SECRET,
                &i64::MIN.to_string(),
                &signature,
                b"{}",
                i64::MAX,
                300
            ),
            Err(VerifyError::Stale { .. })
        ));
    }
}
