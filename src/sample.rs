//! What providers' signers and samples share (the test kit's building blocks, kept below the
//! providers so that a provider's file and the test kit that re-exports its signer do not
//! import each other): header values, times, JSON and form bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::Hmac;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::verify::Header;
use crate::wire::mac::MacKeys;

/// Signers take any non-empty secret: they sign what the provider would, and some providers
/// (GitHub) let users pick any secret. The verifiers keep their minimum lengths, which
/// [`dangerous::allow_short_secrets`](crate::dangerous::allow_short_secrets) lifts.
pub(crate) const ANY_LENGTH: usize = 1;

/// 32 hex digits (a claim token's) in the 8-4-4-4-12 form of a UUID.
pub(crate) fn uuid_text(hex: &str) -> String {
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or("0");
    [
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32),
    ]
    .join("-")
}

/// Sets `header` to `value`, refusing a value that is not visible text.
pub(crate) fn insert(
    headers: &mut HeaderMap,
    header: &Header,
    value: &str,
) -> Result<(), VerifyError> {
    let value = HeaderValue::from_str(value)
        .ok()
        .filter(|v| !v.is_empty() && v.to_str().is_ok())
        .ok_or_else(|| header.malformed("not a valid header value"))?;
    headers.insert(header.wire.clone(), value);
    Ok(())
}

/// `v0=<hex>` of `v0:{timestamp}:{body}` (Slack's and Zoom's format).
pub(crate) fn v0_signature(keys: &MacKeys<Hmac<Sha256>>, timestamp: u64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let tag = keys
        .sign(&[b"v0:", t.as_bytes(), b":", body])
        .unwrap_or_default();
    format!("v0={}", const_hex::encode(tag))
}

/// The `v0=` signature and the timestamp, in `signature` and `timestamp`.
pub(crate) fn v0_headers(
    keys: &MacKeys<Hmac<Sha256>>,
    [signature, stamp]: [&Header; 2],
    timestamp: u64,
    body: &[u8],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (header, value) in [
        (signature, v0_signature(keys, timestamp, body)),
        (stamp, timestamp.to_string()),
    ] {
        // Digits, hex and ASCII prefixes are always valid header values.
        let _ = insert(&mut headers, header, &value);
    }
    headers
}

/// A `Debug` that shows a signer's type and never its key.
macro_rules! redacted_debug {
    ($($ty:ty),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "([redacted])"))
            }
        }
    )*};
}
pub(crate) use redacted_debug;

/// The current time, Unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The current time, Unix milliseconds.
pub(crate) fn unix_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// `value` as JSON bytes.
pub(crate) fn to_vec(value: &Value) -> Vec<u8> {
    // A `Value` always serialises.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `value` with `name` set to `member` when given and not already there (an object only).
pub(crate) fn with_member(mut value: Value, name: &str, member: Option<Value>) -> Value {
    if let (Value::Object(members), Some(member)) = (&mut value, member) {
        members.entry(name).or_insert(member);
    }
    value
}

/// Each top-level member of `payload` as a form parameter (strings as they are, other values
/// as JSON text).
pub(crate) fn form_body(payload: &Value) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(members) = payload {
        for (name, value) in members {
            match value {
                Value::String(text) => form.append_pair(name, text),
                other => form.append_pair(name, &other.to_string()),
            };
        }
    }
    form.finish()
}

/// The URL schemes that sign it (Twilio, Square) are signed for.
#[cfg_attr(not(feature = "testing"), allow(unreachable_pub))] // public through `testing`
pub const TEST_URL: &str = "https://example.com/webhooks";

/// `unix` seconds as RFC 3339 UTC (`2026-11-30T12:00:00Z`).
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let rest = unix % 86_400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), after Howard Hinnant.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_504_000), "2025-11-30T12:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
