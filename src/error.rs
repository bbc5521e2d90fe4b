//! Why a request was rejected, as stable codes and HTTP statuses.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// Why a webhook request failed verification.
///
/// Every variant has a stable snake_case [`code`](VerifyError::code), which the CLI, the
/// adapters' JSON error bodies and logs all use, and an HTTP [`status`](VerifyError::status).
/// Messages say *why* (which header, how many seconds off, how many secrets were tried) and never
/// contain a secret or a computed signature.
///
/// ```
/// use verihook::{providers::github::GithubVerifier, VerifyError};
/// # use http::HeaderMap;
/// let verifier = GithubVerifier::new("It's a Secret to Everybody")?;
/// let err = verifier.verify(&HeaderMap::new(), "{}".into()).unwrap_err();
/// assert!(matches!(err, VerifyError::MissingHeader { .. }));
/// assert_eq!(err.code(), "missing_header");
/// assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
/// assert_eq!(err.to_string(), "missing header X-Hub-Signature-256");
/// # Ok::<(), verihook::VerifyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme requires is absent.
    MissingHeader {
        /// The header's canonical name.
        name: &'static str,
    },
    /// A header is present but cannot be parsed.
    MalformedHeader {
        /// The header's canonical name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No configured secret produced any of the signatures in the request.
    ///
    /// Deliberately carries no detail beyond counts: never the expected signature.
    SignatureMismatch {
        /// How many secrets or keys were tried.
        secrets: usize,
        /// How many well-formed signatures the request carried.
        signatures: usize,
    },
    /// The signed timestamp is older than the tolerance allows (a replay, or a slow queue).
    TimestampTooOld {
        /// How far in the past the timestamp is.
        age: Duration,
        /// The largest gap allowed.
        tolerance: Duration,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    TimestampInFuture {
        /// How far in the future the timestamp is.
        ahead: Duration,
        /// The largest gap allowed.
        tolerance: Duration,
    },
    /// The configured secret or key cannot be used.
    BadSecret(SecretError),
    /// The body is larger than the configured limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// For a scheme that signs the URL: the request's path is not the path of the sender's
    /// configured public URL (a request meant for another endpoint, or a misconfigured URL).
    UrlMismatch,
    /// The route names no sender and the request carries the signature headers of several
    /// configured senders (two Standard Webhooks senders, say): route each sender's endpoint
    /// to it by name. The request is not verified with each in turn.
    AmbiguousSender {
        /// How many configured senders recognise the request's headers.
        senders: usize,
    },
}

impl VerifyError {
    /// The stable code for this failure class: one of `missing_header`, `malformed_header`,
    /// `bad_signature`, `timestamp_too_old`, `timestamp_in_future`, `bad_secret`,
    /// `body_too_large`, `url_mismatch`, `ambiguous_sender`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader { .. } => "missing_header",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::SignatureMismatch { .. } => "bad_signature",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::BadSecret(_) => "bad_secret",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UrlMismatch => "url_mismatch",
            Self::AmbiguousSender { .. } => "ambiguous_sender",
        }
    }

    /// The message answered to the sender: the [`Display`](fmt::Display) text, except that a
    /// signature mismatch does not say how many secrets were tried (that would tell anyone
    /// whether a rotation is under way) and a misconfigured secret says only that the receiver
    /// is misconfigured. The counts stay in logs and in the CLI.
    ///
    /// ```
    /// use verihook::VerifyError;
    /// let err = VerifyError::SignatureMismatch { secrets: 2, signatures: 1 };
    /// assert_eq!(err.answer(), "no signature matched");
    /// assert_eq!(err.to_string(), "no signature matched: tried 2 secrets against 1 signature");
    /// ```
    #[must_use]
    pub fn answer(&self) -> Cow<'static, str> {
        match self {
            Self::SignatureMismatch { .. } => "no signature matched".into(),
            Self::BadSecret(_) => "the receiver's signing secret is misconfigured".into(),
            other => other.to_string().into(),
        }
    }

    /// The HTTP status an endpoint should answer with.
    ///
    /// `400` for a missing or malformed header, `401` for a signature or timestamp that does not
    /// pass, `413` for an oversized body and `500` for a misconfigured secret (the sender is not
    /// at fault, and a retry after the fix will succeed).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingHeader { .. }
            | Self::MalformedHeader { .. }
            | Self::AmbiguousSender { .. } => StatusCode::BAD_REQUEST,
            Self::SignatureMismatch { .. }
            | Self::TimestampTooOld { .. }
            | Self::TimestampInFuture { .. }
            | Self::UrlMismatch => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadSecret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader { name } => write!(f, "missing header {name}"),
            Self::MalformedHeader { name, reason } => {
                write!(f, "malformed header {name}: {reason}")
            }
            Self::SignatureMismatch {
                secrets,
                signatures,
            } => write!(
                f,
                "no signature matched: tried {secrets} secret{} against {signatures} signature{}",
                plural(*secrets),
                plural(*signatures)
            ),
            Self::TimestampTooOld { age, tolerance } => write!(
                f,
                "timestamp is {}s old, more than the {}s tolerance",
                age.as_secs(),
                tolerance.as_secs()
            ),
            Self::TimestampInFuture { ahead, tolerance } => write!(
                f,
                "timestamp is {}s in the future, more than the {}s tolerance",
                ahead.as_secs(),
                tolerance.as_secs()
            ),
            Self::BadSecret(SecretError::ForScheme { scheme, error }) => {
                write!(f, "{scheme}: bad secret: {error}")
            }
            Self::BadSecret(e) => write!(f, "bad secret: {e}"),
            Self::BodyTooLarge { limit } => write!(f, "body is larger than {limit} bytes"),
            Self::UrlMismatch => f.write_str(
                "the request's path is not the path of the sender's configured public URL",
            ),
            Self::AmbiguousSender { senders } => write!(
                f,
                "the request carries the signature headers of {senders} configured senders and its route names none: route each sender's endpoint to it by name"
            ),
        }
    }
}

impl Error for VerifyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::BadSecret(e) => Some(e),
            _ => None,
        }
    }
}

impl VerifyError {
    /// A refused secret named as `scheme`'s; any other error unchanged.
    pub(crate) fn for_scheme(self, scheme: &'static str) -> Self {
        match self {
            Self::BadSecret(e) => Self::BadSecret(e.for_scheme(scheme)),
            other => other,
        }
    }
}

impl From<SecretError> for VerifyError {
    fn from(e: SecretError) -> Self {
        Self::BadSecret(e)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Why key material was refused when building a verifier or signer.
///
/// Its [`code`](SecretError::code) is always `bad_secret`. The message says what is wrong
/// (empty, too short, not base64, wrong prefix) and never repeats the material itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretError {
    /// No key material was given.
    Empty,
    /// The key is shorter than the scheme allows.
    TooShort {
        /// The length given, in bytes (after decoding).
        len: usize,
        /// The smallest length allowed.
        min: usize,
    },
    /// The key has the wrong length for a fixed-size key (ed25519).
    WrongLength {
        /// The length given, in bytes (after decoding).
        len: usize,
        /// The length required.
        expected: usize,
    },
    /// The key is not valid in the encoding it claims.
    Encoding {
        /// The expected encoding, e.g. `"base64"`.
        expected: &'static str,
    },
    /// The key is of a kind this use does not take (e.g. a signing key given to a verifier).
    WrongKind {
        /// What is wrong and what to give instead.
        reason: &'static str,
    },
    /// The key needs a cargo feature that is not enabled.
    FeatureDisabled {
        /// The feature to enable.
        feature: &'static str,
    },
    /// A secret refused by a named scheme: `stripe: the secret is 5 bytes, ...`. Every
    /// built-in verifier and the provider registry name the scheme this way, so an app that
    /// configures several senders is told which one is wrong; [`reason`](Self::reason) is the
    /// refusal itself.
    ForScheme {
        /// The scheme's (or sender's) name: `stripe`, `standard`, `github`...
        scheme: &'static str,
        /// Why the secret was refused.
        error: Box<SecretError>,
    },
}

impl SecretError {
    /// Always `"bad_secret"`, the code shared with [`VerifyError::BadSecret`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        "bad_secret"
    }

    /// The scheme that refused the secret, when it is named.
    #[must_use]
    pub fn scheme(&self) -> Option<&'static str> {
        match self {
            Self::ForScheme { scheme, .. } => Some(scheme),
            _ => None,
        }
    }

    /// Why the secret was refused, without the scheme's name: the error itself, or the one a
    /// [`ForScheme`](Self::ForScheme) wraps. Match on this to tell the reasons apart.
    ///
    /// ```
    /// use verihook::{error::SecretError, providers::stripe::StripeVerifier, VerifyError};
    /// let Err(VerifyError::BadSecret(err)) = StripeVerifier::new("whsec_short") else { panic!() };
    /// assert_eq!(err.scheme(), Some("stripe"));
    /// assert!(matches!(err.reason(), SecretError::TooShort { len: 5, .. }));
    /// ```
    #[must_use]
    pub fn reason(&self) -> &SecretError {
        match self {
            Self::ForScheme { error, .. } => error.reason(),
            other => other,
        }
    }

    /// This error, named as `scheme`'s (unless it already names one).
    pub(crate) fn for_scheme(self, scheme: &'static str) -> Self {
        match self {
            named @ Self::ForScheme { .. } => named,
            error => Self::ForScheme {
                scheme,
                error: Box::new(error),
            },
        }
    }
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the secret is empty"),
            Self::TooShort { len, min } => {
                write!(
                    f,
                    "the secret is {len} byte{}, shorter than the {min} allowed (a provider \
                     that issues shorter secrets: see verihook::dangerous::allow_short_secrets)",
                    plural(*len)
                )
            }
            Self::WrongLength { len, expected } => {
                write!(f, "the key is {len} bytes, it must be {expected}")
            }
            Self::Encoding { expected } => write!(f, "the secret is not valid {expected}"),
            Self::WrongKind { reason } => f.write_str(reason),
            Self::FeatureDisabled { feature } => {
                write!(f, "this key needs the `{feature}` cargo feature")
            }
            Self::ForScheme { scheme, error } => write!(f, "{scheme}: {error}"),
        }
    }
}

impl Error for SecretError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::ForScheme { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

/// A correctly signed body that could not be deserialised into the requested type.
///
/// This is deliberately a different type from [`VerifyError`]: the request *was* authentic, the
/// payload just does not fit the type the app asked for. Its code is `invalid_payload` and its
/// status `422 Unprocessable Content`: the request was understood and authentic, but sending the
/// same bytes again will not make them fit. [`path`](Self::path) names the member that did not
/// fit (`data.object.amount_paid`), for the app's logs.
///
/// A handler that returns one (a [`EventRouter`](crate::EventRouter) route whose payload type does not
/// fit, or `delivery.json()?` in a plain handler) is answered `422` with its claim released,
/// and in the inbox becomes a dead letter at once instead of being retried.
#[derive(Debug)]
pub struct PayloadError {
    source: PayloadSource,
    path: Option<String>,
}

/// What failed to deserialise: a JSON body or a form body.
#[derive(Debug)]
enum PayloadSource {
    Json(serde_json::Error),
    Form(serde_urlencoded::de::Error),
}

impl PayloadError {
    pub(crate) fn new(source: serde_json::Error) -> Self {
        Self {
            source: PayloadSource::Json(source),
            path: None,
        }
    }

    /// Always `"invalid_payload"`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "invalid_payload"
    }

    /// `422 Unprocessable Content`.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::UNPROCESSABLE_ENTITY
    }

    /// The message answered to the sender, the same wherever a misfit is answered (the
    /// [`Receiver`](crate::Receiver) and the adapters' `TypedWebhook`): serde's detail
    /// ([`Display`](fmt::Display), [`path`](Self::path)) describes the app's own types, so it
    /// goes to the log only, never to the sender.
    ///
    /// ```
    /// use verihook::{testing::GithubSigner, providers::github::GithubVerifier};
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Invoice {
    ///     #[allow(dead_code)]
    ///     amount: u64,
    /// }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let body = br#"{"amount":"ten"}"#;
    /// let headers = GithubSigner::new("a-secret-of-length")?.sign_delivery("d-1", "invoice", body)?;
    /// let event = GithubVerifier::new("a-secret-of-length")?.verify(&headers, body.as_slice().into())?;
    /// let err = event.json::<Invoice>().unwrap_err();
    /// assert_eq!(
    ///     err.answer(),
    ///     "the authentic payload does not fit the type this event is handled as"
    /// );
    /// assert!(err.to_string().contains("amount")); // for the log
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn answer(&self) -> &'static str {
        "the authentic payload does not fit the type this event is handled as"
    }

    /// The line and column (1-based) where a JSON body failed to deserialise; `(0, 0)` when
    /// unknown (a form body).
    #[must_use]
    pub fn position(&self) -> (usize, usize) {
        match &self.source {
            PayloadSource::Json(source) => (source.line(), source.column()),
            PayloadSource::Form(_) => (0, 0),
        }
    }

    /// Where in the payload deserialisation failed, as serde names it (`data.object.amount`,
    /// `items[2].id`); `None` when the failure is at the top (not JSON, or not an object).
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
}

/// Deserialises `body` into `T`; on failure, deserialises it again with the path tracked, so a
/// payload that fits pays nothing for the path a misfit reports.
pub(crate) fn parse_payload<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, PayloadError> {
    serde_json::from_slice(body).map_err(|first| {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(tracked) => at_path(tracked, PayloadSource::Json),
            // Cannot happen (the same bytes failed once); keep the first error.
            Ok(_) => PayloadError::new(first),
        }
    })
}

/// Deserialises a form body (`a=1&b=2`) into `T`, the failing parameter named by the path.
pub(crate) fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize::<_, T>(deserializer)
        .map_err(|tracked| at_path(tracked, PayloadSource::Form))
}

/// The error and the path serde tracked to it (none at the top).
fn at_path<E>(
    tracked: serde_path_to_error::Error<E>,
    source: fn(E) -> PayloadSource,
) -> PayloadError {
    let path = tracked.path().to_string();
    PayloadError {
        source: source(tracked.into_inner()),
        path: (path != ".").then_some(path),
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("authentic payload does not match the expected type")?;
        if let Some(path) = &self.path {
            write!(f, " at `{path}`")?;
        }
        let message = match &self.source {
            PayloadSource::Json(source) => source.to_string(),
            PayloadSource::Form(source) => source.to_string(),
        };
        write!(f, ": {}", without_values(&message))
    }
}

/// serde's message without the offending value: `invalid type: string "…", expected u64`
/// quotes the body's content (in full, however long), and so do `invalid value`, `unknown
/// variant` and `unknown field`. What was expected comes from the app's own type and stays.
fn without_values(message: &str) -> Cow<'_, str> {
    for lead in ["invalid type: ", "invalid value: "] {
        if let (Some(start), Some(expected)) = (message.find(lead), message.rfind(", expected")) {
            let value = &message[start + lead.len()..];
            // The kind of value (`string`, `integer`, `map`) is its first word.
            let kind = value
                .split([' ', ','])
                .next()
                .filter(|kind| !kind.is_empty())
                .unwrap_or("value");
            if expected > start {
                return format!("{}{lead}{kind}{}", &message[..start], &message[expected..]).into();
            }
        }
    }
    for lead in ["unknown variant ", "unknown field "] {
        if let (Some(start), Some(expected)) = (message.find(lead), message.rfind(", expected")) {
            if expected > start {
                let what = lead.trim_end();
                return format!("{}{what}{}", &message[..start], &message[expected..]).into();
            }
        }
    }
    message.into()
}

impl Error for PayloadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.source {
            PayloadSource::Json(source) => Some(source),
            PayloadSource::Form(source) => Some(source),
        }
    }
}

/// The longest sender name.
pub const MAX_SENDER_NAME: usize = 64;

/// Why a [`ReceiverBuilder`](crate::receiver::ReceiverBuilder) or an inbox worker could not build: a
/// mistake in the app's set-up, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No sender was added: every request would be refused.
    NoSender,
    /// Two senders were added under one name.
    DuplicateSender {
        /// The name.
        name: String,
    },
    /// A sender name is empty, longer than [`MAX_SENDER_NAME`], or not made of ASCII letters,
    /// digits, `-`, `_` and `.`.
    BadSenderName {
        /// The name.
        name: String,
    },
    /// A body limit names a sender that was not added.
    UnknownSender {
        /// The name.
        name: String,
    },
    /// A route of the [`EventRouter`](crate::EventRouter) is for a sender the receiver does not
    /// have (a misspelt name would leave every event of the real sender unrouted).
    RouteForUnknownSender {
        /// The name the route gives.
        name: String,
        /// The receiver's senders.
        senders: Vec<String>,
    },
    /// No handler was given.
    NoHandler,
    /// A receiver with an inbox was also given a handler: in inbox mode the workers run it.
    HandlerWithInbox,
    /// Two routes of a [`EventRouter`](crate::EventRouter) have the same pattern for the same sender.
    DuplicateRoute {
        /// The pattern.
        pattern: String,
        /// The sender both routes are for (`None`: every sender).
        sender: Option<String>,
    },
    /// A route's pattern is not an event type, `prefix.*` or `*`.
    BadRoute {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSender => f.write_str(
                "the receiver has no sender: add one with .sender(name, scheme) or .verifier(scheme)",
            ),
            Self::DuplicateSender { name } => {
                write!(f, "two senders are named {name:?}: give each its own name")
            }
            Self::BadSenderName { name } => write!(
                f,
                "sender name {name:?} must be 1 to {MAX_SENDER_NAME} ASCII letters, digits, '-', '_' or '.'"
            ),
            Self::UnknownSender { name } => {
                write!(f, "a body limit names sender {name:?}, which was not added")
            }
            Self::RouteForUnknownSender { name, senders } => write!(
                f,
                "a route is for sender {name:?}, which the receiver does not have (its senders: {})",
                senders.join(", ")
            ),
            Self::NoHandler => f.write_str("the receiver has no handler: add one with .handler(..)"),
            Self::HandlerWithInbox => f.write_str(
                "a receiver with an inbox runs no handler: give the handler to an inbox::Worker",
            ),
            Self::DuplicateRoute {
                pattern,
                sender: Some(sender),
            } => write!(f, "two routes for {pattern:?} from sender {sender:?}"),
            Self::DuplicateRoute {
                pattern,
                sender: None,
            } => write!(f, "two routes for {pattern:?}"),
            Self::BadRoute { pattern, reason } => write!(f, "route {pattern:?}: {reason}"),
        }
    }
}

impl Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases: [(VerifyError, &str, u16); 8] = [
            (VerifyError::UrlMismatch, "url_mismatch", 401),
            (
                VerifyError::MissingHeader { name: "a" },
                "missing_header",
                400,
            ),
            (
                VerifyError::MalformedHeader {
                    name: "a",
                    reason: "b",
                },
                "malformed_header",
                400,
            ),
            (
                VerifyError::SignatureMismatch {
                    secrets: 1,
                    signatures: 2,
                },
                "bad_signature",
                401,
            ),
            (
                VerifyError::TimestampTooOld {
                    age: Duration::from_secs(1),
                    tolerance: Duration::ZERO,
                },
                "timestamp_too_old",
                401,
            ),
            (
                VerifyError::TimestampInFuture {
                    ahead: Duration::from_secs(1),
                    tolerance: Duration::ZERO,
                },
                "timestamp_in_future",
                401,
            ),
            (SecretError::Empty.into(), "bad_secret", 500),
            (
                VerifyError::BodyTooLarge { limit: 1 },
                "body_too_large",
                413,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn mismatch_message_counts_without_detail() {
        let err = VerifyError::SignatureMismatch {
            secrets: 2,
            signatures: 1,
        };
        assert_eq!(
            err.to_string(),
            "no signature matched: tried 2 secrets against 1 signature"
        );
    }

    #[test]
    fn errors_are_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<VerifyError>();
        check::<SecretError>();
        check::<PayloadError>();
    }
}
