//! Dashboard sessions: `POST /login` trades a key typed into the page for a cookie, so the
//! key never travels in a URL (where proxies log it) and page scripts never hold it.
//!
//! The cookie is stateless: `v1.<expiry, Unix seconds>.<HMAC-SHA256 of "ivcrush-session:v1:
//! <expiry>" under the key>`. Any instance that knows the key verifies it (several `serve`
//! behind one balancer need no shared session store), it cannot be forged without the key,
//! and removing a key from the configuration ends its sessions.

use hmac::{KeyInit, Mac};

/// The cookie's name.
pub(crate) const COOKIE: &str = "ivcrush_session";

/// How long a session lasts (12 hours: one trading day and its evening).
pub(crate) const LIFETIME_SECS: i64 = 12 * 3600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(key: &[u8], expiry: i64) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(format!("ivcrush-session:v1:{expiry}").as_bytes());
    Some(mac)
}

/// A session value for `key`, valid until `now + LIFETIME_SECS`.
pub(crate) fn issue(key: &[u8], now: i64) -> String {
    let expiry = now + LIFETIME_SECS;
    let tag = mac(key, expiry)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("v1.{expiry}.{tag}")
}

/// The index in `keys` of the key that issued `value`, when it is unexpired at `now`; every
/// key is tried and each tag compared in constant time.
pub(crate) fn verify<'k>(
    value: &str,
    keys: impl IntoIterator<Item = &'k [u8]>,
    now: i64,
) -> Option<usize> {
    let mut parts = value.split('.');
    let (version, expiry, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if version != "v1" || parts.next().is_some() {
        return None;
    }
    let expiry: i64 = expiry.parse().ok()?;
    if expiry <= now || expiry > now + LIFETIME_SECS {
        return None;
    }
    let tag = hex::decode(tag).ok()?;
    let mut found = None;
    for (i, key) in keys.into_iter().enumerate() {
        let ok = mac(key, expiry).is_some_and(|m| m.verify_slice(&tag).is_ok());
        if ok && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.trim().split_once('=')?;
        (n == name).then_some(v)
    })
}

/// The `Set-Cookie` value that stores `value` (`HttpOnly`: no script reads it; `Secure`: only
/// over HTTPS, or to localhost; `SameSite=Strict`: no other site's page sends it).
pub(crate) fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; Path=/; Max-Age={LIFETIME_SECS}; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that ends the session.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"key-a-0123456789abcdef";
    const B: &[u8] = b"key-b-0123456789abcdef";

    #[test]
    fn a_session_names_its_key_until_it_expires() {
        let now = 1_800_000_000;
        let value = issue(B, now);
        assert_eq!(verify(&value, [A, B], now), Some(1));
        assert_eq!(verify(&value, [A, B], now + LIFETIME_SECS - 1), Some(1));
        assert_eq!(verify(&value, [A, B], now + LIFETIME_SECS), None);
        // The key removed from the configuration: its sessions end.
        assert_eq!(verify(&value, [A], now), None);
    }

    #[test]
    fn a_tampered_or_malformed_session_is_refused() {
        let now = 1_800_000_000;
        let value = issue(A, now);
        let (head, tag) = value.rsplit_once('.').expect("three parts");
        // A later expiry with the old tag.
        let later = format!("v1.{}.{tag}", now + LIFETIME_SECS + 60);
        assert_eq!(verify(&later, [A], now), None);
        let flipped = format!(
            "{head}.{}",
            tag.replace(&tag[..1], if &tag[..1] == "0" { "1" } else { "0" })
        );
        assert_eq!(verify(&flipped, [A], now), None);
        for bad in [
            "",
            "v1",
            "v1..",
            "v2.1.00",
            "v1.x.00",
            "v1.1.zz",
            &format!("{value}.x"),
        ] {
            assert_eq!(verify(bad, [A], now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let header = "theme=dark; ivcrush_session=v1.5.ab; other=1";
        assert_eq!(cookie(header, COOKIE), Some("v1.5.ab"));
        assert_eq!(cookie("theme=dark", COOKIE), None);
        let set = set_cookie("v");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(attribute), "{set}");
        }
    }
}
