//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.

use bytes::Bytes;
use hmac::Hmac;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha1::Sha1;
use sha2::Sha256;

use crate::error::VerifyError;
use crate::event::{Event, Verified};
use crate::providers::configured;
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::Events;
use crate::scheme::verifier::{Check, Scheme, SchemeInfo, Verifier};
use crate::secret::Secret;
use crate::verify::Header;
use crate::verify::VerifyOptions;
use crate::wire::header::{hex_array, reported};
use crate::wire::mac::{MacKeys, MIN_RAW_SECRET_LEN};

pub(crate) static SIGNATURE_256: Header = Header::new("x-hub-signature-256", "X-Hub-Signature-256");
pub(crate) static SIGNATURE_SHA1: Header = Header::new("x-hub-signature", "X-Hub-Signature");
pub(crate) static DELIVERY: Header = Header::new("x-github-delivery", "X-GitHub-Delivery");
pub(crate) static EVENT: Header = Header::new("x-github-event", "X-GitHub-Event");

/// Verifies GitHub webhooks: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
/// body under the webhook's secret.
///
/// The event id is the `X-GitHub-Delivery` header and the type is `X-GitHub-Event`.
///
/// **GitHub signs no timestamp and not these headers**: only the body. A captured request can
/// be replayed at any time and its id or type header changed without the signature noticing.
/// So the delivery id is reported but never trusted: the idempotency key is a digest of the
/// body, and a replay (under any delivery id) is a duplicate for as long as the store retains
/// the key; after that it is processed again. Treat the type header as a hint and route on the
/// body where it matters. [`Event::signed`] says so at run time. Bodies up to 25 MiB (GitHub's
/// cap) are read.
///
/// The legacy `X-Hub-Signature: sha1=<hex>` header is ignored unless
/// [`dangerous::accept_legacy_github_sha1`](crate::dangerous::accept_legacy_github_sha1) turns
/// it on, and even then never used when `X-Hub-Signature-256` is present.
///
/// ```
/// use verihook::{providers::github::GithubVerifier, VerifyError};
/// # use http::{HeaderMap, HeaderValue};
/// // GitHub's documented example.
/// let verifier = GithubVerifier::new("It's a Secret to Everybody")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("x-hub-signature-256", HeaderValue::from_static(
///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
/// let event = verifier.verify(&headers, "Hello, World!".into())?;
/// assert_eq!(event.body().as_ref(), b"Hello, World!");
/// assert!(!event.signed().id());
///
/// let err = verifier.verify(&headers, "Hello, World?".into()).unwrap_err();
/// assert_eq!(err.code(), "bad_signature");
/// # Ok::<(), VerifyError>(())
/// ```
pub type GithubVerifier = Verifier<Github>;

/// GitHub's scheme: the webhook's secrets, keyed once for SHA-256 (and SHA-1, used only where
/// [`dangerous`](crate::dangerous) turned it on). Its policy is the [`GithubVerifier`]'s.
#[derive(Clone, Debug)]
pub struct Github {
    sha256: MacKeys<Hmac<Sha256>>,
    sha1: MacKeys<Hmac<Sha1>>,
    legacy_sha1: bool,
}

static HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-hub-signature-256"),
    HeaderName::from_static("x-hub-signature"),
];
static INFO: SchemeInfo = SchemeInfo::new("github", &HEADERS).with_body_limit(BODY_LIMIT);

impl GithubVerifier {
    /// A verifier for one secret, as entered in GitHub's webhook settings.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the secret is empty or shorter than 8 bytes (GitHub
    /// allows any secret; for an old short one see
    /// [`dangerous::allow_short_secrets`](crate::dangerous::allow_short_secrets)).
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, VerifyError> {
        Self::with_secrets([secret])
    }

    /// A verifier that accepts a signature from any of `secrets` (rotation).
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn with_secrets<I>(secrets: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(secrets, MIN_RAW_SECRET_LEN)
    }

    pub(crate) fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        let raw = || secrets.iter().map(AsRef::as_ref);
        let named = |e: VerifyError| e.for_scheme("github");
        Ok(Verifier::for_scheme(Github {
            sha256: MacKeys::from_secrets(raw(), min).map_err(named)?,
            sha1: MacKeys::from_secrets(raw(), min).map_err(named)?,
            legacy_sha1: false,
        }))
    }

    /// A verifier from already-decoded [`Secret`]s.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when there are no secrets, or one is shorter than 8 bytes.
    pub fn from_secrets(secrets: impl IntoIterator<Item = Secret>) -> Result<Self, VerifyError> {
        let secrets: Vec<Secret> = secrets.into_iter().collect();
        Self::with_secrets(secrets.iter().map(Secret::expose))
    }

    pub(crate) fn set_legacy_sha1(mut self, on: bool) -> Self {
        self.scheme.legacy_sha1 = on;
        self
    }
}

impl Github {
    /// The signature the headers carry, parsed (`sha256`, the header found with the others in
    /// one pass when there is one).
    fn signature(
        &self,
        headers: &HeaderMap,
        sha256: Option<&HeaderValue>,
    ) -> Result<Signature, VerifyError> {
        if let Some(value) = sha256 {
            return value
                .as_bytes()
                .strip_prefix(b"sha256=")
                .and_then(hex_array)
                .map(Signature::Sha256)
                .ok_or_else(|| SIGNATURE_256.malformed("expected sha256= and 64 hex digits"));
        }
        match SIGNATURE_SHA1.get(headers) {
            Some(value) if self.legacy_sha1 => value
                .as_bytes()
                .strip_prefix(b"sha1=")
                .and_then(hex_array)
                .map(Signature::Sha1)
                .ok_or_else(|| SIGNATURE_SHA1.malformed("expected sha1= and 40 hex digits")),
            _ => Err(SIGNATURE_256.missing()),
        }
    }
}

enum Signature {
    Sha256([u8; 32]),
    Sha1([u8; 20]),
}

/// GitHub caps webhook payloads at 25 MB.
pub(crate) const BODY_LIMIT: usize = 25 * 1024 * 1024;

/// GitHub signs no timestamp: neither function reads the clock.
impl Scheme for Github {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
        let headers = head.headers();
        self.signature(headers, SIGNATURE_256.get(headers))
            .map(|_| ())
    }

    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        _at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        self.check_post(request.headers(), request.body().clone())
            .map(Verified::Event)
    }
}

impl Github {
    fn check_post(&self, headers: &HeaderMap, body: Bytes) -> Result<Event, VerifyError> {
        let [sha256, delivery, event] =
            Header::find_all(headers, [&SIGNATURE_256, &DELIVERY, &EVENT]);
        let id = reported(&DELIVERY, delivery)?;
        let event_type = reported(&EVENT, event)?;
        let parts: [&[u8]; 1] = [&body];
        let matched = match self.signature(headers, sha256)? {
            Signature::Sha256(sig) => self.sha256.matches_any(&parts, || std::iter::once(sig)),
            Signature::Sha1(sig) => self.sha1.matches_any(&parts, || std::iter::once(sig)),
        };
        if !matched {
            return Err(self.sha256.mismatch(1));
        }
        // Only the body is signed: the delivery id is reported, never used to de-duplicate.
        Ok(Event::verified(
            "github",
            body,
            (id, false),
            (event_type, false),
            None,
        ))
    }
}

/// GitHub signs no timestamp: the policy goes unread, and unbuilt once this is inlined.
impl Events for Github {
    #[inline]
    fn check(&self, headers: &HeaderMap, body: Bytes, _: &Check<'_>) -> Result<Event, VerifyError> {
        self.check_post(headers, body)
    }
}

// Everything else verihook knows about GitHub: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as GitHub does.
#[derive(Clone)]
pub struct GithubSigner {
    sha256: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
    sha1: crate::wire::mac::MacKeys<hmac::Hmac<sha1::Sha1>>,
}

impl GithubSigner {
    /// A signer for the webhook's secret.
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the secret is empty.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        let secret = secret.as_ref();
        Ok(Self {
            sha256: crate::wire::mac::MacKeys::new([secret], crate::sample::ANY_LENGTH)?,
            sha1: crate::wire::mac::MacKeys::new([secret], crate::sample::ANY_LENGTH)?,
        })
    }

    /// The `X-Hub-Signature-256` value: `sha256=<hex>`.
    #[must_use]
    pub fn signature(&self, body: &[u8]) -> String {
        format!(
            "sha256={}",
            const_hex::encode(self.sha256.sign(&[body]).unwrap_or_default())
        )
    }

    /// The legacy `X-Hub-Signature` value: `sha1=<hex>`.
    #[must_use]
    pub fn legacy_signature(&self, body: &[u8]) -> String {
        format!(
            "sha1={}",
            const_hex::encode(self.sha1.sign(&[body]).unwrap_or_default())
        )
    }

    /// The signature headers GitHub sends: `X-Hub-Signature-256` and the legacy
    /// `X-Hub-Signature`.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (header, value) in [
            (&SIGNATURE_256, self.signature(body)),
            (&SIGNATURE_SHA1, self.legacy_signature(body)),
        ] {
            // Hex and ASCII prefixes are always valid header values.
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(header.wire.clone(), value);
            }
        }
        headers
    }

    /// [`sign`](Self::sign) plus `X-GitHub-Delivery` and `X-GitHub-Event`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when `delivery` or `event` cannot be a header value.
    pub fn sign_delivery(
        &self,
        delivery: &str,
        event: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = self.sign(body);
        crate::sample::insert(&mut headers, &DELIVERY, delivery)?;
        crate::sample::insert(&mut headers, &EVENT, event)?;
        Ok(headers)
    }
}

crate::sample::redacted_debug!(GithubSigner);

/// A GitHub delivery: the event name (`X-GitHub-Event`), its `action`, and the body as `T`.
///
/// GitHub signs the body only: `event` and `delivery` come from unsigned headers (a hint, see
/// [`Signed`](crate::event::Signed)); `action` is read from the signed body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GithubEvent<T> {
    /// `X-GitHub-Event` (`pull_request`).
    pub event: String,
    /// The body's `action` (`opened`), for the events that have one.
    pub action: Option<String>,
    /// `X-GitHub-Delivery`.
    pub delivery: Option<String>,
    /// The body.
    pub payload: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for GithubEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |payload: T, r| Self {
            event: r
                .route_key()
                .map(|k| k.kind().to_owned())
                .unwrap_or_default(),
            action: r
                .route_key()
                .and_then(crate::event::RouteKey::action)
                .map(str::to_owned),
            delivery: crate::router::text(r.delivery().id()),
            payload,
        })
    }
}

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    configured(
        GithubVerifier::with_min(args.bytes(), args.min_raw()),
        options,
    )
}

/// `X-GitHub-Event` `.` the body's `action` (`pull_request.opened`). GitHub puts `action`
/// first: the read stops there.
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    let name = event.event_type()?;
    let [action] = crate::event::first_members(&event.body[..], ["action"]);
    Some(crate::event::RouteKey::with_action(
        &name,
        action.as_deref(),
    ))
}

/// Ordered per object of a repository, from the signed body: `octo/app#12` for an issue or a
/// pull request (and their comments and reviews), `octo/app/workflow_job/7` for a workflow
/// job or run, check run or suite, else the repository itself; stamped by the object's
/// `updated_at` where it has one (GitHub signs no timestamp: otherwise arrival order).
fn ordering(event: &crate::event::Event) -> Option<crate::ordering::Order> {
    use crate::ordering::{body_stamp, body_text};
    let body: serde_json::Value = serde_json::from_slice(&event.body[..]).ok()?;
    let repository = body_text(&body, "/repository/full_name")?;
    for object in ["issue", "pull_request"] {
        if let Some(number) = body_text(&body, &format!("/{object}/number")) {
            let stamp = body_stamp(&body, &format!("/{object}/updated_at"));
            return Some((format!("{repository}#{number}"), stamp));
        }
    }
    for object in ["workflow_job", "workflow_run", "check_run", "check_suite"] {
        if let Some(id) = body_text(&body, &format!("/{object}/id")) {
            let stamp = body_stamp(&body, &format!("/{object}/updated_at"));
            return Some((format!("{repository}/{object}/{id}"), stamp));
        }
    }
    Some((repository, None))
}

/// A push, as GitHub's own test deliveries look.
fn sample_body(id: &str, _event: &str) -> String {
    serde_json::json!({
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5",
        "repository": { "id": 186853002, "name": "verihook-demo", "full_name": "octo-org/verihook-demo", "private": false },
        "pusher": { "name": "octocat", "email": "octocat@github.com" },
        "sender": { "login": "octocat", "id": 583231, "type": "User" },
        "head_commit": { "id": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5", "message": format!("Update README.md ({id})"), "timestamp": "2026-11-23T12:00:00Z" }
    })
    .to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let headers = GithubSigner::new(request.secret)?.sign_delivery(
        request.id,
        request.event,
        request.body,
    )?;
    Ok(crate::providers::SignedHeaders::new(headers))
}

/// `pull_request.opened`: `X-GitHub-Event: pull_request` and `"action": "opened"`.
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let action = sample.action.map(serde_json::Value::from);
    let body = crate::sample::to_vec(&crate::sample::with_member(
        sample.payload.clone(),
        "action",
        action,
    ));
    let headers =
        GithubSigner::new(sample.secret)?.sign_delivery(sample.uuid, sample.kind, &body)?;
    Ok(crate::providers::SampleRequest::new(body, headers))
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: "github",
    aliases: &[],
    signs_url: false,
    headers: &["x-hub-signature-256", "x-hub-signature"],
    build,
    route_key,
    ordering,
    sample: crate::providers::Sample {
        event_type: "push",
        header_event: "ping",
        id_note: None,
        spelled: &[
            "X-Hub-Signature-256",
            "X-Hub-Signature",
            "X-GitHub-Delivery",
            "X-GitHub-Event",
        ],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
