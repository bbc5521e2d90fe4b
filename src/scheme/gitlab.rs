//! GitLab: `X-Gitlab-Token`, the webhook's secret token itself, compared in constant time.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{constant_time_eq, reported, Builtin, Scheme, MIN_RAW_SECRET_LEN};
use crate::error::{SecretError, VerifyError};
use crate::event::{Event, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::secret::require_len;
use crate::verify::{verifier_options, Header, VerifyOptions};

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
#[derive(Clone)]
pub struct GitlabVerifier {
    /// The SHA-256 of each accepted token.
    tokens: Vec<Zeroizing<[u8; 32]>>,
    options: VerifyOptions,
}

impl GitlabVerifier {
    /// A verifier for the webhook's secret token, as typed in GitLab's webhook settings.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the token is empty or shorter than 8 bytes.
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
        for token in tokens {
            require_len(token.as_ref(), min)?;
            digests.push(Zeroizing::new(Sha256::digest(token.as_ref()).into()));
        }
        if digests.is_empty() {
            return Err(SecretError::Empty.into());
        }
        Ok(Self {
            tokens: digests,
            options: VerifyOptions::default(),
        })
    }

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
    fn check(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        _now: SystemTime,
    ) -> Result<Event, VerifyError> {
        self.authenticate(headers)?;
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

verifier_options!(GitlabVerifier);

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "gitlab",
    aliases: &[],
    signs_url: false,
    build: |args, options| {
        let tokens = args.secrets.iter().map(|s| s.as_bytes());
        Ok(Box::new(
            GitlabVerifier::with_min(tokens, args.min(MIN_RAW_SECRET_LEN))?.with_options(options),
        ))
    },
};

impl Scheme for GitlabVerifier {
    fn name(&self) -> &'static str {
        "gitlab"
    }

    fn recognizes(&self, headers: &HeaderMap) -> bool {
        TOKEN.get(headers).is_some()
    }

    /// The token is checked here, before the body is read: a wrong one costs nothing more.
    fn precheck(&self, head: &RequestHead<'_>, _now: SystemTime) -> Result<(), VerifyError> {
        self.authenticate(head.headers())
    }

    /// This scheme has no timestamp: verifying never needs the time, so no clock is read.
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }

    /// GitLab sends no timestamp, so `now` is not read.
    fn verify_request(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.check(request.headers(), request.body().clone(), now)
            .map(Verified::Event)
    }
}

impl fmt::Debug for GitlabVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabVerifier")
            .field("tokens", &self.tokens.len())
            .field("options", &self.options)
            .finish()
    }
}
