//! Ordering keys: which object an event is about, and the provider's own order for it, read
//! from signed content. Each provider file declares its reading with these helpers; the
//! inbox's `OrderBy` lets the app name its own or turn ordering off.

use crate::event::Event;

/// An event's ordering key and its stamp (milliseconds since the Unix epoch), as read.
pub(crate) type Order = (String, Option<u64>);

/// A JSON value as ordering-key text: strings as they are, numbers in decimal; nothing else
/// (an object or an empty string names no object).
pub(crate) fn text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON value as a stamp in milliseconds: an RFC 3339 time, or a number of seconds (below
/// 10^11, that is before the year 5138) or of milliseconds.
pub(crate) fn stamp_of(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => {
            let n = n.as_u64()?;
            Some(if n < 100_000_000_000 { n * 1000 } else { n })
        }
        serde_json::Value::String(s) => rfc3339_millis(s),
        _ => None,
    }
}

/// An RFC 3339 time (`2026-12-06T10:00:00Z`, `2026-12-06T10:00:00.123+01:00`; GitLab's
/// `2026-12-06 10:00:00 UTC` too) in milliseconds since the epoch.
pub(crate) fn rfc3339_millis(text: &str) -> Option<u64> {
    let text = text.trim();
    let normal = match text.strip_suffix(" UTC") {
        Some(plain) => format!("{}Z", plain.replacen(' ', "T", 1)),
        None => text.to_owned(),
    };
    let at = humantime::parse_rfc3339_weak(&normal)
        .ok()
        .or_else(|| offset_time(&normal))?;
    u64::try_from(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()
}

/// A time with a numeric offset (`+01:00`), which humantime's parser does not take: the
/// offset is subtracted from the local time.
fn offset_time(text: &str) -> Option<std::time::SystemTime> {
    let split = text.len().checked_sub(6)?;
    let (local, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    let hours: i64 = offset.get(1..3)?.parse().ok()?;
    let minutes: i64 = offset.get(4..6)?.parse().ok()?;
    let base = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = std::time::Duration::from_secs(u64::try_from(hours * 3600 + minutes * 60).ok()?);
    if sign > 0 {
        base.checked_sub(shift)
    } else {
        base.checked_add(shift)
    }
}

/// The value at `pointer` in a JSON body, as ordering-key text.
pub(crate) fn body_text(body: &serde_json::Value, pointer: &str) -> Option<String> {
    text(body.pointer(pointer)?)
}

/// The value at `pointer` in a JSON body, as a stamp.
pub(crate) fn body_stamp(body: &serde_json::Value, pointer: &str) -> Option<u64> {
    stamp_of(body.pointer(pointer)?)
}

/// An ordering read from the body: the key at `key`, the stamp at `stamp`; what most
/// providers declare.
pub(crate) fn from_body(event: &Event, key: &str, stamp: &str) -> Option<Order> {
    let body: serde_json::Value = serde_json::from_slice(event.body()).ok()?;
    Some((body_text(&body, key)?, body_stamp(&body, stamp)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_read_every_shape_providers_send() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(rfc3339_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(rfc3339_millis("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(rfc3339_millis("1970-01-01 00:00:02 UTC"), Some(2000));
        assert_eq!(rfc3339_millis("yesterday"), None);
        assert_eq!(
            stamp_of(&serde_json::json!(1_700_000_000)),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            stamp_of(&serde_json::json!(1_700_000_000_123u64)),
            Some(1_700_000_000_123)
        );
        assert_eq!(stamp_of(&serde_json::json!(-1)), None);
        assert_eq!(text(&serde_json::json!({"a": 1})), None);
        assert_eq!(text(&serde_json::json!("")), None);
    }
}
