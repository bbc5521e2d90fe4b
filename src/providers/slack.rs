//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`.

use hmac::Hmac;
use http::{HeaderMap, HeaderName};
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{body_member, Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    text_keyed, with_signed_content, Answers, Builtin, Check, MacKeys, Scheme, SchemeInfo,
    Verifier, MIN_RAW_SECRET_LEN,
};
use crate::verify::Header;

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
/// ```
/// use verihook::{testing::SlackSigner, FixedClock, SlackVerifier, Verified};
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
        crate::scheme::v0_signed(headers, [&SIGNATURE, &TIMESTAMP], at)
    }
}

const HEADER: &str = "x-slack-signature";
static HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER)];
static INFO: SchemeInfo = SchemeInfo::new("slack", &HEADERS);

impl SlackVerifier {
    /// A verifier for the app's signing secret.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation: the sender signs
    /// with the new secret as soon as it is rotated).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no secrets.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        text_keyed(secrets, MIN_RAW_SECRET_LEN, |keys| Slack { keys })
    }
}

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "slack",
    aliases: &[],
    signs_url: false,
    headers: &[HEADER],
    build: |args, options| {
        let secrets = args.secrets.iter().map(|s| s.as_bytes());
        let min = args.min(MIN_RAW_SECRET_LEN);
        Ok(text_keyed(secrets, min, |keys| Slack { keys })?
            .with_options(options)
            .boxed())
    },
};

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
            return Err(VerifyError::SignatureMismatch {
                secrets: self.keys.len(),
                signatures: 1,
            });
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
            Event::builder("slack", body.clone())
                .id(Field::Body("event_id"), true)
                .event_type(Field::Body("type"), true)
                .timestamp(seconds)
                .build(),
        ))
    }
}
