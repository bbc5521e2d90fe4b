// The one message format every broker carries: the body as received, and headers.

use std::error::Error;
use std::fmt;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::event::{Event, Signed};
use crate::handler::Delivery;
use crate::inbox::Entry;

/// The header names of a forwarded message. Values are UTF-8 text in which `%`, control
/// characters and everything outside ASCII are percent-encoded (so no value can break a header
/// line); providers' ids and types are plain ASCII, so in practice nothing is encoded.
pub mod header {
    /// The event's idempotency key (`stripe:evt_1`): unique per event; also the broker's
    /// de-duplication id (`Nats-Msg-Id`, AMQP `message_id`). Always present.
    pub const KEY: &str = "Verihook-Key";
    /// The sender's name in the receiver (`stripe`). Always present.
    pub const SENDER: &str = "Verihook-Sender";
    /// The scheme that verified the request (`stripe`, `github`, `standard`). Always present.
    pub const SCHEME: &str = "Verihook-Scheme";
    /// Which parts the provider's signature covered: a comma-separated list of `body`, `id`,
    /// `type` and `timestamp` (`body,id,type,timestamp` for Stripe; `body` for GitHub, whose id
    /// and type travel in unsigned headers). Always present, possibly empty.
    pub const SIGNED: &str = "Verihook-Signed";
    /// The event id, when the request carried one.
    pub const ID: &str = "Verihook-Id";
    /// The event type (`invoice.paid`, `pull_request`), when the request carried one.
    pub const TYPE: &str = "Verihook-Type";
    /// The key the receiver routes by (`pull_request.opened`), when there is one.
    pub const ROUTE: &str = "Verihook-Route";
    /// The signed timestamp, Unix seconds, when the scheme signs one.
    pub const TIMESTAMP: &str = "Verihook-Timestamp";
    /// The ordering key (`sub_1Nx`, `octo/app#12`), when the event is kept in order.
    pub const ORDERING_KEY: &str = "Verihook-Ordering-Key";
    /// The provider's order for the event, milliseconds since the Unix epoch, when it gives one.
    pub const STAMP: &str = "Verihook-Stamp";
    /// The W3C trace context of the request that delivered the event, when it carried a valid
    /// one.
    pub const TRACEPARENT: &str = "traceparent";
    /// `application/json` for a body that starts as JSON does, else `application/octet-stream`.
    pub const CONTENT_TYPE: &str = "Content-Type";
}

/// What is percent-encoded in a header value.
const ENCODED: &AsciiSet = &CONTROLS.add(b'%');

/// How a message's headers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Style {
    /// The `Verihook-*` headers ([`header`]).
    Plain,
    /// The `Verihook-*` headers and the CloudEvents attributes in binary content mode, each
    /// header named `prefix` + attribute: `ce-` in the NATS binding, `cloudEvents_` in the AMQP
    /// binding. `id` is the idempotency key, `source` `/webhooks/<sender>`, `type` the event
    /// type (`webhook` when there is none), `time` the signed timestamp, `subject` the ordering
    /// key.
    CloudEvents {
        /// The binding's header prefix.
        prefix: &'static str,
    },
}

/// One verified event as a broker carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The idempotency key: the broker's de-duplication id.
    pub key: String,
    /// The sender's name in the receiver.
    pub sender: String,
    /// The scheme that verified it.
    pub scheme: String,
    /// The event id, when the request carried one.
    pub id: Option<String>,
    /// The event type, when the request carried one.
    pub event_type: Option<String>,
    /// The route key, when there is one.
    pub route: Option<String>,
    /// The signed timestamp (Unix seconds), when the scheme signs one.
    pub timestamp: Option<u64>,
    /// The ordering key, when the event is kept in order.
    pub ordering_key: Option<String>,
    /// The provider's order for the event (milliseconds since the Unix epoch).
    pub stamp: Option<u64>,
    /// Which parts the provider's signature covered.
    pub signed: Signed,
    /// The W3C trace context of the request that delivered it.
    pub traceparent: Option<String>,
    /// The body, exactly as received (or as redacted before the inbox stored it).
    pub body: Bytes,
}

/// Why a message could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    header: &'static str,
    problem: &'static str,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a forwarded webhook: {} {}",
            self.header, self.problem
        )
    }
}

impl Error for FormatError {}

impl Message {
    /// The message for an inbox worker's delivery.
    #[must_use]
    pub fn from_delivery(delivery: &Delivery) -> Self {
        Self {
            key: delivery.key().to_owned(),
            sender: delivery.sender().to_owned(),
            scheme: delivery.scheme().to_owned(),
            id: delivery.id().map(Into::into),
            event_type: delivery.event_type().map(Into::into),
            route: delivery.route_key().map(|r| r.as_str().to_owned()),
            timestamp: delivery.unix_timestamp(),
            ordering_key: delivery.ordering_key().map(Into::into),
            stamp: delivery.stamp(),
            signed: delivery.signed(),
            traceparent: delivery.traceparent().map(Into::into),
            body: delivery.body().clone(),
        }
    }

    /// The body's media type: `application/json` when it starts as JSON does.
    #[must_use]
    pub fn content_type(&self) -> &'static str {
        match self.body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'[') => "application/json",
            _ => "application/octet-stream",
        }
    }

    /// The headers to publish with the body, names and values.
    #[must_use]
    pub fn headers(&self, style: Style) -> Vec<(String, String)> {
        let mut headers = Vec::with_capacity(20);
        let mut put = |name: &str, value: &str| {
            headers.push((
                name.to_owned(),
                utf8_percent_encode(value, ENCODED).to_string(),
            ));
        };
        put(header::KEY, &self.key);
        put(header::SENDER, &self.sender);
        put(header::SCHEME, &self.scheme);
        put(header::SIGNED, &signed_list(self.signed));
        let optional = [
            (header::ID, self.id.clone()),
            (header::TYPE, self.event_type.clone()),
            (header::ROUTE, self.route.clone()),
            (header::TIMESTAMP, self.timestamp.map(|t| t.to_string())),
            (header::ORDERING_KEY, self.ordering_key.clone()),
            (header::STAMP, self.stamp.map(|s| s.to_string())),
            (header::TRACEPARENT, self.traceparent.clone()),
        ];
        for (name, value) in &optional {
            if let Some(value) = value {
                put(name, value);
            }
        }
        put(header::CONTENT_TYPE, self.content_type());
        if let Style::CloudEvents { prefix } = style {
            let attribute = |name: &str| format!("{prefix}{name}");
            put(&attribute("specversion"), "1.0");
            put(&attribute("id"), &self.key);
            put(&attribute("source"), &format!("/webhooks/{}", self.sender));
            put(
                &attribute("type"),
                self.event_type.as_deref().unwrap_or("webhook"),
            );
            if let Some(unix) = self.timestamp {
                let time = UNIX_EPOCH + Duration::from_secs(unix.min(253_402_300_799));
                put(
                    &attribute("time"),
                    &humantime::format_rfc3339_seconds(time).to_string(),
                );
            }
            if let Some(ordering_key) = &self.ordering_key {
                put(&attribute("subject"), ordering_key);
            }
        }
        headers
    }

    /// Whether [`read`](Self::read) can read this message back: every header value within
    /// 4096 bytes once percent-encoded.
    ///
    /// # Errors
    ///
    /// [`FormatError`] naming the header that is too long.
    pub fn readable(&self) -> Result<(), FormatError> {
        let fields = [
            (header::KEY, Some(&self.key)),
            (header::SENDER, Some(&self.sender)),
            (header::SCHEME, Some(&self.scheme)),
            (header::ID, self.id.as_ref()),
            (header::TYPE, self.event_type.as_ref()),
            (header::ROUTE, self.route.as_ref()),
            (header::ORDERING_KEY, self.ordering_key.as_ref()),
            (header::TRACEPARENT, self.traceparent.as_ref()),
        ];
        for (name, value) in fields {
            // Percent-encoding at most triples a value: only a long one needs counting.
            let Some(value) = value.filter(|v| v.len() * 3 > MAX_VALUE) else {
                continue;
            };
            if utf8_percent_encode(value, ENCODED)
                .map(str::len)
                .sum::<usize>()
                > MAX_VALUE
            {
                return Err(FormatError {
                    header: name,
                    problem: "would be longer than 4096 bytes",
                });
            }
        }
        Ok(())
    }

    /// Reads a message back from the headers and body a consumer received (header names
    /// compared without case). CloudEvents attributes are ignored: the `Verihook-*` headers
    /// carry everything.
    ///
    /// ```
    /// use verihook::forward::{header, Message};
    ///
    /// let headers = [
    ///     (header::KEY, "stripe:evt_1"),
    ///     (header::SENDER, "stripe"),
    ///     (header::SCHEME, "stripe"),
    ///     (header::SIGNED, "body,id,type,timestamp"),
    ///     (header::TYPE, "invoice.paid"),
    /// ];
    /// let message = Message::read(
    ///     headers.iter().map(|(n, v)| (*n, v.as_bytes())),
    ///     br#"{"id":"evt_1"}"#.as_slice().into(),
    /// )?;
    /// let event = message.to_event();
    /// assert_eq!(event.event_type().as_deref(), Some("invoice.paid"));
    /// assert!(event.signed().event_type());
    /// # Ok::<(), verihook::forward::FormatError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`FormatError`] when a required header ([`KEY`](header::KEY),
    /// [`SENDER`](header::SENDER), [`SCHEME`](header::SCHEME), [`SIGNED`](header::SIGNED)) is
    /// missing, or a value is not UTF-8 text or not a number where one is expected.
    pub fn read<'h>(
        headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
        body: Bytes,
    ) -> Result<Self, FormatError> {
        let mut message = Self {
            key: String::new(),
            sender: String::new(),
            scheme: String::new(),
            id: None,
            event_type: None,
            route: None,
            timestamp: None,
            ordering_key: None,
            stamp: None,
            signed: Signed::default(),
            traceparent: None,
            body,
        };
        let mut required = [false; 4];
        for (name, value) in headers {
            let Some(slot) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            let name = NAMES[slot];
            let text = decode(name, value)?;
            let number = |text: &str| {
                text.parse::<u64>().map_err(|_| FormatError {
                    header: name,
                    problem: "is not a whole number",
                })
            };
            match slot {
                0 => message.key = text,
                1 => message.sender = text,
                2 => message.scheme = text,
                3 => message.signed = parse_signed(&text),
                4 => message.id = Some(text),
                5 => message.event_type = Some(text),
                6 => message.route = Some(text),
                7 => message.timestamp = Some(number(&text)?),
                8 => message.ordering_key = Some(text),
                9 => message.stamp = Some(number(&text)?),
                _ => message.traceparent = Some(text),
            }
            if let Some(seen) = required.get_mut(slot) {
                *seen = true;
            }
        }
        if let Some(missing) = required.iter().position(|seen| !seen) {
            return Err(FormatError {
                header: NAMES[missing],
                problem: "is missing",
            });
        }
        if message.key.is_empty() {
            return Err(FormatError {
                header: header::KEY,
                problem: "is empty",
            });
        }
        Ok(message)
    }

    /// The event, as the receiver verified it: sender, scheme, id, type, signed timestamp,
    /// body and which of them were signed.
    #[must_use]
    pub fn to_event(&self) -> Event {
        // The inbox's own rebuilding of a verified event, from the same fields.
        let entry = Entry {
            key: self.key.clone(),
            sender: self.sender.clone(),
            scheme: self.scheme.clone(),
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            timestamp: self.timestamp,
            signed: self.signed,
            route_key: None,
            route_key_signed: false,
            ordering_key: None,
            stamp: None,
            traceparent: None,
            redacted: false,
            body: self.body.clone(),
        };
        entry.to_event()
    }

    /// A message with only its key and sender, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(key: &str, sender: &str) -> Self {
        Self {
            key: key.to_owned(),
            sender: sender.to_owned(),
            scheme: sender.to_owned(),
            id: None,
            event_type: None,
            route: None,
            timestamp: None,
            ordering_key: None,
            stamp: None,
            signed: Signed::from_bits(8),
            traceparent: None,
            body: Bytes::new(),
        }
    }
}

/// The headers [`Message::read`] takes, the required ones first.
const NAMES: [&str; 11] = [
    header::KEY,
    header::SENDER,
    header::SCHEME,
    header::SIGNED,
    header::ID,
    header::TYPE,
    header::ROUTE,
    header::TIMESTAMP,
    header::ORDERING_KEY,
    header::STAMP,
    header::TRACEPARENT,
];

/// The longest header value read back: longer is not a forwarded message.
const MAX_VALUE: usize = 4096;

fn decode(name: &'static str, value: &[u8]) -> Result<String, FormatError> {
    let refuse = |problem| FormatError {
        header: name,
        problem,
    };
    if value.len() > MAX_VALUE {
        return Err(refuse("is longer than 4096 bytes"));
    }
    let text = std::str::from_utf8(value).map_err(|_| refuse("is not UTF-8"))?;
    percent_decode_str(text)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| refuse("is not percent-encoded UTF-8"))
}

/// `body,id,type,timestamp`: what [`header::SIGNED`] lists.
fn signed_list(signed: Signed) -> String {
    let parts = [
        (signed.body(), "body"),
        (signed.id(), "id"),
        (signed.event_type(), "type"),
        (signed.timestamp(), "timestamp"),
    ];
    let mut list = String::new();
    for (_, name) in parts.iter().filter(|(on, _)| *on) {
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(name);
    }
    list
}

/// The flags a [`header::SIGNED`] list names; unknown names are ignored (a later version may
/// name more parts).
fn parse_signed(list: &str) -> Signed {
    let has = |part: &str| list.split(',').any(|p| p.trim() == part);
    Signed {
        id: has("id"),
        event_type: has("type"),
        timestamp: has("timestamp"),
        body_unsigned: !has("body"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Message {
        let mut message = Message::for_tests("stripe:evt_1", "stripe");
        message.id = Some("evt_1".into());
        message.event_type = Some("invoice.paid\r\nX-Injected: 1".into());
        message.route = Some("invoice.paid".into());
        message.timestamp = Some(1_700_000_000);
        message.ordering_key = Some("in_1%ü".into());
        message.stamp = Some(1_700_000_000_123);
        message.signed = Signed::from_bits(1 | 2 | 4);
        message.traceparent =
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        message.body = Bytes::from_static(b" {\"id\":\"evt_1\"}");
        message
    }

    #[test]
    fn headers_read_back_into_the_same_message() {
        let message = full();
        for style in [Style::Plain, Style::CloudEvents { prefix: "ce-" }] {
            let headers = message.headers(style);
            for (_, value) in &headers {
                assert!(
                    value.bytes().all(|b| (0x20..0x7f).contains(&b)),
                    "{value:?}"
                );
            }
            let read = Message::read(
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                message.body.clone(),
            )
            .unwrap();
            assert_eq!(read, message);
        }
    }

    #[test]
    fn cloudevents_attributes_follow_the_binding() {
        let headers = full().headers(Style::CloudEvents {
            prefix: "cloudEvents_",
        });
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("cloudEvents_specversion"), Some("1.0"));
        assert_eq!(get("cloudEvents_id"), Some("stripe:evt_1"));
        assert_eq!(get("cloudEvents_source"), Some("/webhooks/stripe"));
        assert_eq!(get("cloudEvents_time"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(get("Content-Type"), Some("application/json"));
        assert_eq!(get("Verihook-Signed"), Some("body,id,type,timestamp"));
    }

    #[test]
    fn what_is_not_a_forwarded_message_is_refused() {
        let good = full().headers(Style::Plain);
        let without = |name: &str| {
            let headers: Vec<_> = good.iter().filter(|(n, _)| n != name).collect();
            Message::read(
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                Bytes::new(),
            )
        };
        for name in [header::KEY, header::SENDER, header::SCHEME, header::SIGNED] {
            assert!(without(name).unwrap_err().to_string().contains(name));
        }
        let bad = [
            (header::KEY, b"k".as_slice()),
            (header::SENDER, b"s"),
            (header::SCHEME, b"s"),
            (header::SIGNED, b""),
            (header::STAMP, b"12x"),
        ];
        assert!(Message::read(bad, Bytes::new()).is_err());
        let not_utf8 = [(header::KEY, b"\xff".as_slice())];
        assert!(Message::read(not_utf8, Bytes::new()).is_err());
    }

    #[test]
    fn what_could_not_be_read_back_is_not_readable() {
        let mut message = full();
        assert!(message.readable().is_ok());
        // 1,400 non-ASCII characters: 2,800 bytes, 8,400 once encoded.
        message.event_type = Some("é".repeat(1_400));
        let error = message.readable().unwrap_err();
        assert!(error.to_string().contains(header::TYPE), "{error}");
        let headers = message.headers(Style::Plain);
        let read = Message::read(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
            Bytes::new(),
        );
        assert!(read.is_err(), "readable() and read() disagree");
        message.event_type = Some("a".repeat(MAX_VALUE));
        assert!(message.readable().is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever bytes a broker hands over, reading them back never panics.
        #[test]
        fn reading_survives_arbitrary_bytes(
            headers in prop::collection::vec(
                (prop::sample::select(NAMES.to_vec()), prop::collection::vec(any::<u8>(), 0..64)),
                0..16,
            ),
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let pairs = headers.iter().map(|(n, v)| (*n, v.as_slice()));
            let _ = Message::read(pairs, Bytes::from(body));
        }

        /// Any text in any field comes back the same, through printable header values.
        #[test]
        fn any_text_survives_the_round_trip(
            key in text().prop_filter("a key", |k| !k.is_empty()),
            id in text(),
            kind in text(),
            ordering_key in text(),
        ) {
            let mut message = Message::for_tests(&key, "stripe");
            message.id = Some(id);
            message.event_type = Some(kind);
            message.ordering_key = Some(ordering_key);
            let headers = message.headers(Style::Plain);
            for (_, value) in &headers {
                prop_assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)));
            }
            let read = Message::read(
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
                Bytes::new(),
            ).unwrap();
            prop_assert_eq!(read, message);
        }
    }
}
