//! Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`.

use std::time::SystemTime;

use hmac::Hmac;
use http::HeaderMap;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{body_member, Event, Field, Handshake, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::text_secret_scheme;
use crate::scheme::{with_signed_content, MacKeys, Scheme};
use crate::verify::{verifier_options, Header, VerifyOptions};

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
#[derive(Clone)]
pub struct SlackVerifier {
    keys: MacKeys<Hmac<Sha256>>,
    options: VerifyOptions,
}

impl SlackVerifier {
    /// The timestamp's digits and value, and the signature, once the timestamp is fresh.
    fn parse<'a>(
        &self,
        headers: &'a HeaderMap,
        now: SystemTime,
    ) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
        crate::scheme::v0_signed(
            headers,
            [&SIGNATURE, &TIMESTAMP],
            self.options.tolerance(),
            now,
        )
    }
}

verifier_options!(SlackVerifier, handshakes);
text_secret_scheme!(
    SlackVerifier,
    "slack",
    "the app's signing secret",
    "x-slack-signature"
);

impl Scheme for SlackVerifier {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        SIGNATURE.get(headers).is_some()
    }

    fn precheck(&self, head: &RequestHead<'_>, now: SystemTime) -> Result<(), VerifyError> {
        self.parse(head.headers(), now).map(|_| ())
    }

    fn now(&self) -> SystemTime {
        self.options.clock.now()
    }

    fn verify_request(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let (digits, seconds, signature) = self.parse(request.headers(), now)?;
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
