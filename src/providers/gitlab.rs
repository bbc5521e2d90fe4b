//! GitLab: `X-Gitlab-Token`, the webhook's secret token itself, compared in constant time; and
//! GitLab's signing token, a Standard Webhooks signature over `{webhook-id}.{timestamp}.{body}`.

use std::fmt;

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{SecretError, VerifyError};
use crate::event::SchemeName;
use crate::event::{Event, Verified};
use crate::providers::configured;
use crate::providers::standard::{Standard, StandardVerifier, MIN_SYMMETRIC_KEY_LEN};
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{event_only, Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::secret::require_len;
use crate::verify::Header;
use crate::verify::VerifyOptions;
use crate::wire::header::reported;
use crate::wire::mac::{constant_time_eq, MIN_RAW_SECRET_LEN};

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
/// configured with one is signed as [Standard Webhooks](crate::providers::standard::StandardVerifier) are,
/// `webhook-signature: v1,<base64>` of `{webhook-id}.{webhook-timestamp}.{body}` under a
/// `whsec_<base64>` key, `webhook-id` being the `Idempotency-Key`. Give that token (it starts
/// with `whsec_`) and the body, id and time are verified: the id then de-duplicates (it is
/// constant across GitLab's retries) and the timestamp must be within the tolerance. Give both
/// a signing token and a secret token and both are required.
///
/// ```
/// use verihook::{testing::GitlabSigner, providers::gitlab::GitlabVerifier};
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

// Everything else verihook knows about GitLab: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Sends requests as GitLab does: the webhook's secret token in `X-Gitlab-Token` (a secret
/// token signs nothing), or, for a signing token (`whsec_<base64>`), a Standard Webhooks
/// signature; with the event name, event UUID and idempotency key headers either way.
#[derive(Clone)]
pub struct GitlabSigner {
    token: zeroize::Zeroizing<Vec<u8>>,
    signing: Option<crate::providers::standard::StandardSigner>,
}

impl GitlabSigner {
    /// A signer for the webhook's secret token, or its signing token (`whsec_...`).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the token is empty, or a signing token is not base64.
    pub fn new(token: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        let token = token.as_ref();
        if token.is_empty() {
            return Err(crate::error::SecretError::Empty);
        }
        let signing = match std::str::from_utf8(token) {
            Ok(text) if text.starts_with("whsec_") => {
                Some(crate::providers::standard::StandardSigner::new(text)?)
            }
            _ => None,
        };
        Ok(Self {
            token: zeroize::Zeroizing::new(token.to_vec()),
            signing,
        })
    }

    /// The headers of a delivery of `body` for `event` (`Push Hook`), with `uuid` as its event
    /// UUID and idempotency key, signed now when the token is a signing token.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when the token, event or uuid cannot be a header value.
    pub fn sign(
        &self,
        event: &str,
        uuid: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.sign_at(event, uuid, now, body)
    }

    /// [`sign`](Self::sign) at `timestamp` (Unix seconds; only a signing token signs it).
    ///
    /// # Errors
    ///
    /// As [`sign`](Self::sign).
    pub fn sign_at(
        &self,
        event: &str,
        uuid: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = match &self.signing {
            // GitLab's webhook-id is the idempotency key.
            Some(signer) => signer.sign(uuid, timestamp, body)?,
            None => {
                let mut headers = http::HeaderMap::new();
                let mut token = http::HeaderValue::from_bytes(&self.token)
                    .map_err(|_| TOKEN.malformed("the token is not a valid header value"))?;
                // The token is the secret itself: `Debug` of these headers shows `Sensitive`.
                token.set_sensitive(true);
                headers.insert(TOKEN.wire.clone(), token);
                headers
            }
        };
        crate::sample::insert(&mut headers, &EVENT, event)?;
        crate::sample::insert(&mut headers, &EVENT_UUID, uuid)?;
        crate::sample::insert(&mut headers, &IDEMPOTENCY_KEY, uuid)?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(GitlabSigner);

/// A GitLab delivery: `object_kind`, `object_attributes.action` where there is one, and the
/// body as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitlabEvent<T> {
    /// `object_kind` (`push`, `merge_request`), else the `X-Gitlab-Event` header.
    pub object_kind: String,
    /// `object_attributes.action` (`open`, `merge`), where the event has one.
    pub action: Option<String>,
    /// The body.
    pub payload: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for GitlabEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |payload: T, r| Self {
            object_kind: r
                .route_key()
                .map(|k| k.kind().to_owned())
                .unwrap_or_default(),
            action: r
                .route_key()
                .and_then(crate::event::RouteKey::action)
                .map(str::to_owned),
            payload,
        })
    }
}

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    configured(
        GitlabVerifier::with_min(args.bytes(), args.min_raw()),
        options,
    )
}

/// Ordered per object of a project: `<project id>/<object_kind>/<iid or id>` from
/// `object_attributes` (a merge request, an issue, a pipeline), else the project; stamped by
/// the object's `updated_at`. GitLab's token authenticates the whole request (it signs
/// nothing), so the body is the sender's as much as anything else it sent.
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    use crate::ordering::{body_stamp, body_text};
    let body: serde_json::Value = serde_json::from_slice(&event.body[..]).ok()?;
    let project = body_text(&body, "/project/id").or_else(|| body_text(&body, "/project_id"))?;
    let kind = body_text(&body, "/object_kind");
    let object = body_text(&body, "/object_attributes/iid")
        .or_else(|| body_text(&body, "/object_attributes/id"));
    match (kind, object) {
        (Some(kind), Some(object)) => Some((
            format!("{project}/{kind}/{object}"),
            body_stamp(&body, "/object_attributes/updated_at"),
        )),
        _ => Some((project, None)),
    }
}

/// `object_kind` `.` `object_attributes.action` (`merge_request.open`), else the
/// `X-Gitlab-Event` the scheme reported.
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    #[derive(serde::Deserialize)]
    struct Keys<'a> {
        #[serde(borrow)]
        object_kind: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        object_attributes: Option<Attributes<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Attributes<'a> {
        #[serde(borrow)]
        action: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_slice::<Keys<'_>>(&event.body[..]).ok() {
        Some(Keys {
            object_kind: Some(kind),
            object_attributes,
        }) => Some(crate::event::RouteKey::with_action(
            &kind,
            object_attributes.as_ref().and_then(|a| a.action.as_deref()),
        )),
        _ => event.event_type().map(|t| crate::event::RouteKey::new(&t)),
    }
}

/// A push, as GitLab's test deliveries look.
fn sample_body(id: &str, _event: &str) -> String {
    serde_json::json!({
        "object_kind": "push",
        "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "ref": "refs/heads/main",
        "user_name": "John Smith",
        "project_id": 15,
        "project": { "name": "verihook-demo", "path_with_namespace": "octo-org/verihook-demo" },
        "commits": [{ "id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "message": format!("Update README.md ({id})") }],
        "total_commits_count": 1
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = GitlabSigner::new(request.secret)?.sign_at(
        request.event,
        request.id,
        request.timestamp,
        request.body,
    )?;
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `merge_request.open`: `"object_kind": "merge_request"`, `object_attributes.action` and
/// `X-Gitlab-Event: Merge Request Hook`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let mut body = crate::sample::with_member(
        sample.payload.clone(),
        "object_kind",
        Some(serde_json::Value::from(sample.kind)),
    );
    if let (Some(action), serde_json::Value::Object(members)) = (sample.action, &mut body) {
        let attributes = members
            .entry("object_attributes")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(attributes) = attributes {
            attributes.insert("action".into(), serde_json::Value::from(action));
        }
    }
    let body = crate::sample::to_vec(&body);
    let header = event_header(sample.kind);
    let headers = GitlabSigner::new(sample.secret)?.sign(&header, sample.uuid, &body)?;
    Ok(crate::providers::SampleRequest::new(body, headers))
}

/// GitLab's `X-Gitlab-Event` for an `object_kind`: `merge_request` → `Merge Request Hook`.
fn event_header(kind: &str) -> String {
    let words: Vec<String> = kind
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    [words.join(" ").as_str(), " Hook"].concat()
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: "gitlab",
    aliases: &[],
    signs_url: false,
    headers: &["x-gitlab-token", "x-gitlab-event"],
    build,
    route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "Push Hook",
        header_event: "Push Hook",
        id_note: None,
        spelled: &[
            "X-Gitlab-Token",
            "X-Gitlab-Event",
            "X-Gitlab-Event-Uuid",
            "Idempotency-Key",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
        ],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};

#[cfg(test)]
mod sample_tests {
    #[test]
    fn names_gitlab_hooks() {
        assert_eq!(super::event_header("merge_request"), "Merge Request Hook");
        assert_eq!(super::event_header("push"), "Push Hook");
    }
}
