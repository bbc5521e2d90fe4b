//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`.

use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{body_member, Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::scheme::verifier::{TextKeyed, TextKeys};
use crate::verify::Header;
use crate::wire::mac::{with_signed_content, MacKeys};

pub(crate) static SIGNATURE: Header = Header::new("x-slack-signature", "X-Slack-Signature");
pub(crate) static TIMESTAMP: Header =
    Header::new("x-slack-request-timestamp", "X-Slack-Request-Timestamp");

/// The largest body looked at for a `url_verification` handshake (Slack's is about 150 bytes).
const HANDSHAKE_MAX: usize = 4096;

/// Verifies Slack requests (Events API, slash commands, interactivity):
/// `X-Slack-Signature: v0=<hex>`, the HMAC-SHA256 of `v0:{timestamp}:{body}` under the app's
/// signing secret, with `X-Slack-Request-Timestamp` within the tolerance (default 5 minutes,
/// as Slack asks) in either direction, checked before any signature work.
///
/// JSON and form-encoded bodies are both signed as received. The Events API's
/// `url_verification` request is answered by the scheme itself with its `challenge`, once its
/// signature passed: [`Verified::Handshake`]. The event id is the body's `event_id` (Events
/// API; signed), the type its `type`. Form bodies carry no id: they are de-duplicated by a
/// digest of the signed timestamp and body.
///
/// [`SlackVerifier::new`](Verifier::new) takes the app's signing secret.
///
/// ```
/// use verihook::{testing::SlackSigner, scheme::FixedClock, providers::slack::SlackVerifier, event::Verified};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let secret = "8f742231b10e8888abcd99yyyzzz85a5";
/// let body = br#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNF"}"#;
/// let headers = SlackSigner::new(secret)?.sign(1_700_000_000, body);
/// let verifier = SlackVerifier::new(secret)?.with_clock(FixedClock::at_unix(1_700_000_001));
/// let Verified::Handshake(answer) = verifier.verify(&headers, body.as_slice().into())? else { panic!() };
/// assert_eq!(answer.body().as_ref(), br#"{"challenge":"3eZbrw1aBm2rZgRNF"}"#);
/// # Ok(()) }
/// ```
pub type SlackVerifier = Verifier<Slack>;

/// Slack's scheme: the secrets, keyed once. Its policy (clock, tolerance) is the
/// [`SlackVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Slack {
    keys: MacKeys<Hmac<Sha256>>,
}

impl Slack {
    /// The timestamp's digits and value, and the signature, once the timestamp is fresh.
    fn parse<'a>(
        headers: &'a HeaderMap,
        at: &Check<'_>,
    ) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
        crate::wire::header::v0_signed(headers, [&SIGNATURE, &TIMESTAMP], at)
    }
}

const HEADER: &str = "x-slack-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
/// The provider's one name: its scheme's, its events' sender's and its registry entry's.
const NAME: &str = "slack";

static INFO: SchemeInfo = SchemeInfo::new(NAME, &HEADERS);

impl TextKeyed for Slack {
    const NAME: &'static str = NAME;

    fn from_keys(keys: TextKeys) -> Self {
        Self { keys: keys.0 }
    }
}

impl Answers for Slack {
    type Answer = Verified;
    fn answer(verified: Verified) -> Result<Verified, VerifyError> {
        Ok(verified)
    }
}

impl Scheme for Slack {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        Self::parse(head.headers(), at).map(|_| ())
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        let (digits, seconds, signature) = Self::parse(request.headers(), at)?;
        let body = request.body();
        let matched = with_signed_content([b"v0:", digits, b":"], body, |parts| {
            self.keys.matches_any(parts, || std::iter::once(signature))
        });
        if !matched {
            return Err(self.keys.mismatch(1));
        }
        // The handshake is a small body that names itself: nothing larger is searched or parsed.
        // Built once: building a substring finder costs more than searching a small body.
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"url_verification"));
        if body.len() <= HANDSHAKE_MAX
            && FINDER.find(body).is_some()
            && body_member(body, "type").as_deref() == Some("url_verification")
        {
            if let Some(challenge) = body_member(body, "challenge") {
                let answer = serde_json::json!({ "challenge": challenge }).to_string();
                return Ok(Verified::Handshake(Handshake::json(answer)));
            }
        }
        Ok(Verified::Event(
            Event::builder(NAME, body.clone())
                .id(Field::Body("event_id"), true)
                .event_type(Field::Body("type"), true)
                .timestamp(seconds)
                .build(),
        ))
    }
}

// Everything else verihook knows about Slack: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Slack does.
#[derive(Clone)]
pub struct SlackSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
}

impl SlackSigner {
    /// A signer for the app's signing secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([secret.as_ref()], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `X-Slack-Signature` value: `v0=<hex>`.
    #[must_use]
    pub fn signature(&self, timestamp: u64, body: &[u8]) -> String {
        crate::sample::v0_signature(&self.keys, timestamp, body)
    }

    /// `X-Slack-Signature` and `X-Slack-Request-Timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> http::HeaderMap {
        crate::sample::v0_headers(&self.keys, [&SIGNATURE, &TIMESTAMP], timestamp, body)
    }
}

crate::sample::redacted_debug!(SlackSigner);

/// A Slack Events API callback (`"type": "event_callback"`), with the inner `event` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackEvent<T> {
    /// The inner event's `type` (`app_mention`).
    pub event_type: String,
    /// `event_id` (signed).
    pub event_id: String,
    /// `event_time`, Unix seconds.
    pub event_time: u64,
    /// `team_id`.
    pub team_id: Option<String>,
    /// `api_app_id`.
    pub api_app_id: Option<String>,
    /// `event`.
    pub event: T,
}

#[derive(serde::Deserialize)]
struct SlackWire<T> {
    event_id: String,
    event_time: u64,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    api_app_id: Option<String>,
    event: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for SlackEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: SlackWire<T>, r| Self {
            event_type: r
                .route_key()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            event_id: w.event_id,
            event_time: w.event_time,
            team_id: w.team_id,
            api_app_id: w.api_app_id,
            event: w.event,
        })
    }
}

/// The inner `event.type` of an `event_callback` (`app_mention`), else the outer `type`.
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    /// The nested members the key is read from; every other member is skipped unread.
    #[derive(serde::Deserialize)]
    struct Nested<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        event: Option<Inner<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Inner<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    let keys = serde_json::from_slice::<Nested<'_>>(&event.body[..]).ok()?;
    match (keys.kind.as_deref(), keys.event.and_then(|e| e.kind)) {
        (Some("event_callback"), Some(inner)) => Some(crate::event::RouteKey::new(&inner)),
        (Some(outer), _) => Some(crate::event::RouteKey::new(outer)),
        (None, _) => None,
    }
}

/// An Events API callback.
fn sample_body(id: &str, event: &str) -> String {
    serde_json::json!({
        "type": "event_callback",
        "event_id": id,
        "event_time": crate::sample::unix_now(),
        "team_id": "T061EG9R6",
        "event": { "type": event, "channel": "C2147483705", "user": "U2147483697", "text": "Hello world" }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = SlackSigner::new(request.secret)?.sign(request.timestamp, request.body);
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// An `event_callback` with the payload as its inner `event`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let event = crate::sample::with_member(
        sample.payload.clone(),
        "type",
        Some(serde_json::Value::from(sample.event_type)),
    );
    let body = crate::sample::to_vec(&serde_json::json!({
        "token": "verihook-test",
        "team_id": "T0VERIHOOK",
        "api_app_id": "A0VERIHOOK",
        "type": "event_callback",
        "event_id": format!("Ev{}", &sample.unique[..16]),
        "event_time": sample.secs,
        "event": event,
    }));
    let headers = SlackSigner::new(sample.secret)?.sign(sample.secs, &body);
    Ok(crate::providers::SampleRequest::new(body, headers))
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: NAME,
    aliases: &[],
    signs_url: false,
    headers: &["x-slack-signature"],
    build: crate::providers::build_text_keyed::<Slack>,
    route_key,
    ordering: |_| None,
    sample: crate::providers::Sample {
        event_type: "app_mention",
        header_event: "ping",
        id_note: None,
        spelled: &["X-Slack-Signature", "X-Slack-Request-Timestamp"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
