//! GitLab: `X-Gitlab-Token`, the webhook's secret token itself, compared in constant time; and
//! GitLab's signing token, a Standard Webhooks signature over `{webhook-id}.{timestamp}.{body}`.

use std::fmt;

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Verified};
use crate::providers::standard::{Standard, StandardVerifier, MIN_SYMMETRIC_KEY_LEN};
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{
    constant_time_eq, event_only, reported, Answers, Builtin, Check, Scheme, SchemeInfo,
    SchemeName, Verifier, MIN_RAW_SECRET_LEN,
};
use crate::secret::require_len;
use crate::verify::Header;

pub(crate) static TOKEN: Header = Header::new("x-gitlab-token", "X-Gitlab-Token");
pub(crate) static EVENT: Header = Header::new("x-gitlab-event", "X-Gitlab-Event");
pub(crate) static EVENT_UUID: Header = Header::new("x-gitlab-event-uuid", "X-Gitlab-Event-UUID");
pub(crate) static IDEMPOTENCY_KEY: Header = Header::new("idempotency-key", "Idempotency-Key");

/// Verifies GitLab webhooks by their secret token: GitLab sends the token configured on the
/// webhook, as it is, in `X-Gitlab-Token`.
///
/// **This authenticates the sender but signs nothing.** The token proves the request came from
/// someone who knows it; it does not cover the body, the headers or any time, so anyone who sees
/// one request (a logging proxy, a leaked capture) can send any body, forever, until the token
/// is rotated. Use HTTPS end to end and rotate the token when in doubt; every part of the event
/// is reported as unsigned ([`Event::signed`] says so, body included).
///
/// The token is compared in constant time, through SHA-256 digests so that not even its length
/// shows, and before the body is read. De-duplication uses a digest of the body: GitLab's
/// `Idempotency-Key` (constant across retries of one delivery, reported as the id; else
/// `X-Gitlab-Event-UUID`) is unsigned like everything else. The type is `X-Gitlab-Event`
/// (`Push Hook`, `Merge Request Hook`, ...).
///
/// **GitLab's signing token** (GitLab 18.x, behind its `webhook_signing_token` flag): a webhook
/// configured with one is signed as [Standard Webhooks](crate::StandardVerifier) are,
/// `webhook-signature: v1,<base64>` of `{webhook-id}.{webhook-timestamp}.{body}` under a
/// `whsec_<base64>` key, `webhook-id` being the `Idempotency-Key`. Give that token (it starts
/// with `whsec_`) and the body, id and time are verified: the id then de-duplicates (it is
/// constant across GitLab's retries) and the timestamp must be within the tolerance. Give both
/// a signing token and a secret token and both are required.
///
/// ```
/// use verihook::{testing::GitlabSigner, GitlabVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let body = br#"{"object_kind":"push","ref":"refs/heads/main"}"#;
/// let headers = GitlabSigner::new("a-webhook-secret-token")?.sign("Push Hook", "3c7d5e3f-1", body)?;
/// let event = GitlabVerifier::new("a-webhook-secret-token")?.verify(&headers, body.as_slice().into())?;
/// assert_eq!(event.event_type().as_deref(), Some("Push Hook"));
/// assert!(!event.signed().body(), "a token signs nothing");
/// # Ok(()) }
/// ```
pub type GitlabVerifier = Verifier<Gitlab>;

/// GitLab's scheme: the tokens (as digests) and the signing secrets, if any. Its policy (clock,
/// tolerance) is the [`GitlabVerifier`]'s.
#[derive(Clone)]
pub struct Gitlab {
    /// The SHA-256 of each accepted secret token (none: `X-Gitlab-Token` is not required).
    tokens: Vec<Zeroizing<[u8; 32]>>,
    /// The signing tokens' scheme (none: GitLab signs nothing).
    signing: Option<Standard>,
}

static HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-gitlab-token"),
    HeaderName::from_static("x-gitlab-event"),
];
static INFO: SchemeInfo = SchemeInfo::new("gitlab", &HEADERS);

impl GitlabVerifier {
    /// A verifier for the webhook's secret token, as typed in GitLab's webhook settings, or for
    /// its signing token (`whsec_<base64>`).
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the token is empty or shorter than 8 bytes, or a signing
    /// token is not `whsec_` and base64 of at least 16 bytes.
    pub fn new(token: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([token])
    }

    /// A verifier that accepts any of `tokens` (rotation: keep the old one until every
    /// webhook sends the new one).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no tokens.
    pub fn with_secrets<I>(tokens: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(tokens, MIN_RAW_SECRET_LEN)
    }

    fn with_min<I>(tokens: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut digests = Vec::new();
        let mut signing = Vec::new();
        for token in tokens {
            let token = token.as_ref();
            if token.starts_with(b"whsec_") {
                let text = std::str::from_utf8(token).map_err(|_| SecretError::Encoding {
                    expected: "whsec_ followed by base64",
                })?;
                signing.push(text.to_owned());
            } else {
                require_len(token, min)?;
                digests.push(Zeroizing::new(Sha256::digest(token).into()));
            }
        }
        if digests.is_empty() && signing.is_empty() {
            return Err(SecretError::Empty.into());
        }
        let signing = if signing.is_empty() {
            None
        } else {
            let min = if min == 1 { 1 } else { MIN_SYMMETRIC_KEY_LEN };
            Some(StandardVerifier::with_min(signing.iter().map(String::as_str), min)?.scheme)
        };
        Ok(Verifier::for_scheme(Gitlab {
            tokens: digests,
            signing,
        }))
    }
}

impl Gitlab {
    /// The token header present and equal to one of the configured tokens.
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), VerifyError> {
        let presented = TOKEN.require(headers)?.as_bytes();
        let presented: [u8; 32] = Sha256::digest(presented).into();
        // Every configured token is compared, whichever matches.
        let matched = self.tokens.iter().fold(false, |found, token| {
            found | constant_time_eq(&presented, &token[..])
        });
        if matched {
            Ok(())
        } else {
            Err(VerifyError::SignatureMismatch {
                secrets: self.tokens.len(),
                signatures: 1,
            })
        }
    }

    /// Checks one request: the headers and the raw body as received.
    fn check(&self, request: &WebhookRequest<'_>, at: &Check<'_>) -> Result<Event, VerifyError> {
        let headers = request.headers();
        if !self.tokens.is_empty() {
            self.authenticate(headers)?;
        }
        if let Some(signing) = &self.signing {
            let mut event =
                signing
                    .verify(request, at)?
                    .into_event()
                    .ok_or(VerifyError::MissingHeader {
                        name: "webhook-signature",
                    })?;
            // The id, timestamp and body are signed; X-Gitlab-Event is not.
            event.scheme = SchemeName::from_static("gitlab");
            event.event_type = reported(&EVENT, EVENT.get(headers))?;
            event.signed.event_type = false;
            return Ok(event);
        }
        let body = request.body().clone();
        let id = match IDEMPOTENCY_KEY.get(headers) {
            Some(value) => reported(&IDEMPOTENCY_KEY, Some(value))?,
            None => reported(&EVENT_UUID, EVENT_UUID.get(headers))?,
        };
        let event_type = reported(&EVENT, EVENT.get(headers))?;
        let mut event = Event::verified("gitlab", body, (id, false), (event_type, false), None);
        event.signed.body_unsigned = true;
        Ok(event)
    }
}

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "gitlab",
    aliases: &[],
    signs_url: false,
    headers: &["x-gitlab-token", "x-gitlab-event"],
    build: |args, options| {
        let tokens = args.secrets.iter().map(|s| s.as_bytes());
        Ok(
            GitlabVerifier::with_min(tokens, args.min(MIN_RAW_SECRET_LEN))?
                .with_options(options)
                .boxed(),
        )
    },
};

impl Scheme for Gitlab {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        if !self.tokens.is_empty() {
            self.authenticate(head.headers())?;
        }
        match &self.signing {
            Some(signing) => signing.check_head(head, at),
            None => Ok(()),
        }
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        self.check(request, at).map(Verified::Event)
    }
}

impl Answers for Gitlab {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
}

impl fmt::Debug for Gitlab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gitlab")
            .field("tokens", &self.tokens.len())
            .field("signing", &self.signing)
            .finish()
    }
}
