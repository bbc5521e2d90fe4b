// Subjects and routing keys from a template: `webhooks.{sender}.{type}`.

use std::error::Error;
use std::fmt;

use super::Message;

/// The longest value a placeholder puts into a subject or routing key; the rest is cut (an
/// AMQP routing key holds 255 bytes at most).
const MAX_VALUE: usize = 100;

/// A NATS subject or AMQP routing key made from each message: literal dot-separated tokens and
/// placeholders, `{sender}`, `{scheme}`, `{type}`, `{id}` and `{ordering_key}`.
///
/// Every value is made safe before it is put in: characters other than ASCII letters, digits,
/// `-` and `_` become `_` (no wildcard, space or separator can come in from an event), `{type}`
/// keeps its dots as token separators when the provider signed the type (`invoice.paid` stays
/// two tokens, so that a consumer can subscribe to `webhooks.stripe.invoice.>`) and is one token
/// when it did not (GitHub's type travels in an unsigned header), an empty token becomes `_`, a
/// missing value `none`, and a value is cut at 100 bytes.
///
/// ```
/// use verihook::forward::Template;
///
/// let template = Template::new("webhooks.{sender}.{type}")?;
/// assert_eq!(template.to_string(), "webhooks.{sender}.{type}");
/// assert!(Template::new("webhooks.{colour}").is_err());
/// assert!(Template::new("webhooks.*").is_err());
/// # Ok::<(), verihook::forward::TemplateError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Literal(usize, usize),
    Sender,
    Scheme,
    Type,
    Id,
    OrderingKey,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    template: String,
    reason: &'static str,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template {:?}: {}", self.template, self.reason)
    }
}

impl Error for TemplateError {}

impl Template {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for an unknown placeholder, an unclosed `{`, a character other than
    /// ASCII letters, digits, `-`, `_` and `.` outside placeholders, or an empty token.
    pub fn new(text: &str) -> Result<Self, TemplateError> {
        let refuse = |reason| TemplateError {
            template: text.chars().take(200).collect(),
            reason,
        };
        if text.is_empty() || text.len() > 200 {
            return Err(refuse("must have 1 to 200 characters"));
        }
        let mut parts = Vec::new();
        let mut rest = 0;
        while rest < text.len() {
            let tail = &text[rest..];
            if let Some(inner) = tail.strip_prefix('{') {
                let end = inner
                    .find('}')
                    .ok_or_else(|| refuse("a `{` is not closed"))?;
                parts.push(match &inner[..end] {
                    "sender" => Part::Sender,
                    "scheme" => Part::Scheme,
                    "type" => Part::Type,
                    "id" => Part::Id,
                    "ordering_key" => Part::OrderingKey,
                    _ => {
                        return Err(refuse(
                            "unknown placeholder: use {sender}, {scheme}, {type}, {id} or {ordering_key}",
                        ))
                    }
                });
                rest += end + 2;
            } else {
                let end = tail.find('{').unwrap_or(tail.len());
                let literal = &tail[..end];
                if !literal
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                {
                    return Err(refuse(
                        "only ASCII letters, digits, `-`, `_` and `.` outside placeholders",
                    ));
                }
                parts.push(Part::Literal(rest, rest + end));
                rest += end;
            }
        }
        if text.starts_with('.') || text.ends_with('.') || text.contains("..") {
            return Err(refuse(
                "a token is empty (a leading, trailing or double `.`)",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// A template the crate itself names (the defaults), parsed; the unit tests check that
    /// each parses, so the empty fallback is never used.
    pub(crate) fn builtin(text: &'static str) -> Self {
        Self::new(text).unwrap_or(Self {
            text: String::new(),
            parts: Vec::new(),
        })
    }

    /// The subject or routing key for `message`.
    #[must_use]
    pub fn render(&self, message: &Message) -> String {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match *part {
                Part::Literal(start, end) => out.push_str(&self.text[start..end]),
                Part::Sender => push_token(&mut out, Some(&message.sender)),
                Part::Scheme => push_token(&mut out, Some(&message.scheme)),
                Part::Id => push_token(&mut out, message.id.as_deref()),
                Part::OrderingKey => push_token(&mut out, message.ordering_key.as_deref()),
                Part::Type => match message.event_type.as_deref() {
                    // A type the signature does not cover (GitHub's header) is one token: a
                    // replayed body under a made-up type cannot choose the subject's shape.
                    Some(kind) if !message.signed.event_type() => push_token(&mut out, Some(kind)),
                    Some(kind) => {
                        let kind = cut(kind);
                        for (n, token) in kind.split('.').enumerate() {
                            if n > 0 {
                                out.push('.');
                            }
                            push_token(&mut out, Some(token));
                        }
                    }
                    None => out.push_str("none"),
                },
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// At most [`MAX_VALUE`] bytes of `value`, cut at a character boundary.
fn cut(value: &str) -> &str {
    let mut end = value.len().min(MAX_VALUE);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// One token: `value` with every character but ASCII letters, digits, `-` and `_` made `_`.
fn push_token(out: &mut String, value: Option<&str>) {
    match value.map(cut) {
        None => out.push_str("none"),
        Some("") => out.push('_'),
        Some(value) => out.extend(value.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(event_type: Option<&str>, ordering_key: Option<&str>) -> Message {
        let mut message = Message::for_tests("stripe:evt_1", "stripe");
        message.signed = crate::event::Signed::from_bits(1 | 2 | 4);
        message.event_type = event_type.map(Into::into);
        message.ordering_key = ordering_key.map(Into::into);
        message
    }

    #[test]
    fn placeholders_are_filled_and_made_safe() {
        let template = Template::new("webhooks.{sender}.{type}").unwrap();
        let render = |t: Option<&str>| template.render(&message(t, None));
        assert_eq!(render(Some("invoice.paid")), "webhooks.stripe.invoice.paid");
        assert_eq!(render(Some("a..b")), "webhooks.stripe.a._.b");
        assert_eq!(render(Some("x.>")), "webhooks.stripe.x._");
        assert_eq!(render(Some("x y*")), "webhooks.stripe.x_y_");
        assert_eq!(render(Some("")), "webhooks.stripe._");
        assert_eq!(render(None), "webhooks.stripe.none");
        assert_eq!(render(Some("é.ü")), "webhooks.stripe._._");
        let long = "a".repeat(500);
        assert_eq!(
            render(Some(&long)).len(),
            "webhooks.stripe.".len() + MAX_VALUE
        );
        let mut unsigned = message(Some("push.x.y.>"), None);
        unsigned.signed = crate::event::Signed::from_bits(0);
        assert_eq!(template.render(&unsigned), "webhooks.stripe.push_x_y__");
        let keyed = Template::new("orders.{ordering_key}").unwrap();
        assert_eq!(
            keyed.render(&message(None, Some("octo/app#12"))),
            "orders.octo_app_12"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "", "a.{nope}", "a.{type", "a.*", "a.>", ".a", "a.", "a..b", "a b",
        ] {
            assert!(Template::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Template::new("{sender}-{type}.x_y").is_ok());
        #[cfg(feature = "nats")]
        assert_eq!(
            Template::builtin(crate::forward::nats::DEFAULT_SUBJECT).to_string(),
            "webhooks.{sender}.{type}"
        );
        #[cfg(feature = "amqp")]
        assert_eq!(
            Template::builtin(crate::forward::amqp::DEFAULT_ROUTING_KEY).to_string(),
            "{sender}.{type}"
        );
    }
}
