//! The built-in providers, one module each: everything verihook knows about a sender (its
//! scheme, its signer, its typed envelope, its route key, its sample event) lives in that
//! provider's file, and [`ALL`] lists them.
//!
//! Detection, routing, the test kit and the CLI walk [`ALL`]; none of them names a provider.
//! Adding a built-in provider is its file here and one line in [`ALL`].
//!
//! ```
//! use verihook::{providers, scheme::VerifyOptions};
//!
//! let stripe = providers::find("Stripe").ok_or("no stripe")?;
//! let verifier = stripe.build(&["whsec_a_stripe_secret"], None, VerifyOptions::default())?;
//! assert_eq!(verifier.name(), "stripe");
//! assert_eq!(providers::find("svix").map(|p| p.name), Some("standard-webhooks"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod discord;
pub mod github;
pub mod gitlab;
pub mod linear;
pub mod paddle;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard;
pub mod stripe;
pub mod twilio;
pub mod zoom;

use std::fmt;

use http::HeaderMap;

use crate::error::SecretError;
use crate::event::Event;
use crate::event::RouteKey;
use crate::scheme::verifier::Verifier;
use crate::verify::VerifyOptions;
use crate::VerifyError;

/// A built-in provider, as data: the names configuration and the CLI use, how a request is
/// recognised as its, how its scheme is built, how its events are routed, and how a realistic
/// signed sample is made (for the test kit and the CLI).
pub struct Provider {
    /// The canonical name: `github`, `stripe`, `standard-webhooks`, `slack`, `twilio`,
    /// `discord`, `square`, `shopify`, `gitlab`, `paddle`, `linear`, `zoom`.
    pub name: &'static str,
    /// Other names accepted for it (`svix`, `standard`).
    pub aliases: &'static [&'static str],
    /// Whether it signs the URL (so needs the public URL configured).
    pub signs_url: bool,
    /// The headers (lower-case) whose presence marks a request as this provider's: its
    /// signature or token header.
    pub headers: &'static [&'static str],
    pub(crate) build: fn(BuildArgs<'_>, VerifyOptions) -> Result<Verifier, VerifyError>,
    /// The key its verified events are routed by (see the envelope table in
    /// [`envelope`](crate::envelope)).
    pub(crate) route_key: fn(&Event) -> Option<RouteKey>,
    /// The ordering key and stamp of its verified events, read from the signed body (see
    /// [`OrderBy::Provider`](crate::inbox::OrderBy::Provider)); `None` for senders whose
    /// events are not about one object (Slack, Twilio, Discord, Standard Webhooks).
    #[cfg_attr(not(feature = "inbox"), allow(dead_code))]
    pub(crate) ordering: fn(&Event) -> Option<crate::ordering::Order>,
    /// The sample: its default event type, body, signer and test-kit event.
    pub(crate) sample: Sample,
}

/// How a provider's realistic signed samples are made: what [`Provider`] offers the test kit
/// and the CLI.
pub(crate) struct Sample {
    /// The event type of a sample when none is asked for (`invoice.paid`, `push`).
    pub(crate) event_type: &'static str,
    /// The event a signed header names when none is given (GitHub's `X-GitHub-Event`:
    /// `ping`); unused by providers whose event is inside the body.
    pub(crate) header_event: &'static str,
    /// Said when an event id is given to a provider that carries it inside the body.
    pub(crate) id_note: Option<&'static str>,
    /// The headers its signer writes, spelled as the provider sends them.
    pub(crate) spelled: &'static [&'static str],
    /// Whether a body that is not JSON is a form (`application/x-www-form-urlencoded`).
    pub(crate) forms: bool,
    /// A small but realistic body for an event of a type, with an id.
    pub(crate) body: fn(id: &str, event: &str) -> String,
    /// Signs a body as the provider does.
    pub(crate) sign: fn(&SignRequest<'_>) -> Result<SignedHeaders, SignError>,
    /// The test kit's event: a payload wrapped in the provider's envelope and signed.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // read only by `testing`
    pub(crate) event: fn(&EventSample<'_>) -> Result<SampleRequest, VerifyError>,
}

impl Provider {
    /// Builds the scheme from key material exactly as the provider issues it (several for
    /// rotation) and, for schemes that sign the URL, the public URL the provider posts to.
    ///
    /// ```
    /// use verihook::{providers, scheme::VerifyOptions};
    /// let stripe = providers::find("stripe").unwrap();
    /// let verifier = stripe.build(&["whsec_old_secret", "whsec_new_secret"], None, VerifyOptions::default())?;
    /// assert_eq!(verifier.name(), "stripe");
    /// # Ok::<(), verihook::VerifyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when a secret is refused (empty, too short, wrong kind) or
    /// the scheme needs a URL and none (or a malformed one) was given.
    pub fn build(
        &self,
        secrets: &[&str],
        url: Option<&str>,
        options: VerifyOptions,
    ) -> Result<Verifier, VerifyError> {
        (self.build)(
            BuildArgs {
                secrets,
                url,
                short_ok: false,
            },
            options,
        )
        .map_err(|err| err.for_scheme(self.name))
    }

    /// [`build`](Self::build), accepting secrets shorter than the provider's minimum: the
    /// diagnosis keys a scheme this way to say "too short" rather than "mismatch", and
    /// `dangerous::allow_short_secrets` is the public way in.
    pub(crate) fn build_short_ok(
        &self,
        secrets: &[&str],
        url: Option<&str>,
        options: VerifyOptions,
    ) -> Result<Verifier, VerifyError> {
        (self.build)(
            BuildArgs {
                secrets,
                url,
                short_ok: true,
            },
            options,
        )
        .map_err(|err| err.for_scheme(self.name))
    }

    /// Whether `name` is this provider's name or one of its aliases, ignoring case.
    #[must_use]
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// The event type a sample has when none is asked for (`invoice.paid`, `push`,
    /// `orders/create`).
    #[must_use]
    pub fn sample_event_type(&self) -> &'static str {
        self.sample.event_type
    }

    /// The event [`sign`](Self::sign) names in a header when none is given (GitHub's
    /// `X-GitHub-Event`: `ping`; GitLab's `X-Gitlab-Event`: `Push Hook`).
    #[must_use]
    pub fn header_event(&self) -> &'static str {
        self.sample.header_event
    }

    /// What to tell someone who gives an event id to a provider that carries it inside the
    /// body, where it is not replaced (Stripe).
    #[must_use]
    pub fn id_note(&self) -> Option<&'static str> {
        self.sample.id_note
    }

    /// `header` spelled as this provider sends it (`X-GitHub-Event`), if its signer writes it.
    #[must_use]
    pub fn spelling(&self, header: &str) -> Option<&'static str> {
        self.sample
            .spelled
            .iter()
            .copied()
            .find(|spelled| spelled.eq_ignore_ascii_case(header))
    }

    /// The `Content-Type` the provider sends `body` with: a form for providers that post
    /// forms (unless the body is JSON), else JSON.
    #[must_use]
    pub fn content_type(&self, body: &[u8]) -> &'static str {
        if self.sample.forms && !body.trim_ascii_start().starts_with(b"{") {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        }
    }

    /// A small but realistic body for an event of type `event` with id `id`, like the
    /// provider's own test events (a form for Twilio).
    ///
    /// ```
    /// let github = verihook::providers::find("github").unwrap();
    /// let body = github.sample_body("d-1", github.sample_event_type());
    /// assert!(body.contains("refs/heads/main"));
    /// ```
    #[must_use]
    pub fn sample_body(&self, id: &str, event: &str) -> String {
        (self.sample.body)(id, event)
    }

    /// The headers the provider sends with `request.body`, signed under `request.secret` as
    /// the provider does, with any notes about what was signed.
    ///
    /// ```
    /// use verihook::providers::{self, SignRequest};
    /// let github = providers::find("github").unwrap();
    /// let signed = github.sign(&SignRequest {
    ///     named: "github",
    ///     secret: "a webhook secret",
    ///     url: None,
    ///     id: "d-1",
    ///     event: "push",
    ///     timestamp: 1_700_000_000,
    ///     body: b"{}",
    /// })?;
    /// assert_eq!(signed.headers["x-github-event"], "push");
    /// # Ok::<(), providers::SignError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SignError`]: the secret or a header value refused, no URL for a provider that signs
    /// it, or a provider whose requests cannot be signed without its own private key.
    pub fn sign(&self, request: &SignRequest<'_>) -> Result<SignedHeaders, SignError> {
        (self.sample.sign)(request)
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What [`Provider::sign`] signs. Its `Debug` never shows the secret.
#[derive(Clone, Copy)]
pub struct SignRequest<'a> {
    /// The name the provider was chosen by (its name or an alias): `svix` signs with Svix's
    /// header names.
    pub named: &'a str,
    /// Key material as the provider issues it (any non-empty length: it is what the provider
    /// would sign with).
    pub secret: &'a str,
    /// The URL the request is posted to, for providers that sign it.
    pub url: Option<&'a str>,
    /// The delivery's id, for providers that send one in a header.
    pub id: &'a str,
    /// The event, for providers that name it in a header (GitHub's `X-GitHub-Event`).
    pub event: &'a str,
    /// The signing time, Unix seconds.
    pub timestamp: u64,
    /// The raw body.
    pub body: &'a [u8],
}

impl fmt::Debug for SignRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignRequest")
            .field("named", &self.named)
            .field("secret", &"[redacted]")
            .field("url", &self.url)
            .field("id", &self.id)
            .field("event", &self.event)
            .field("timestamp", &self.timestamp)
            .field("body", &self.body.len())
            .finish()
    }
}

/// The headers [`Provider::sign`] made, and what the signer noted about the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedHeaders {
    /// The headers to send with the body.
    pub headers: HeaderMap,
    /// Things to know before sending (a JSON body signed through the URL, a timestamp the
    /// body lacks).
    pub notes: Vec<String>,
}

impl SignedHeaders {
    pub(crate) fn new(headers: HeaderMap) -> Self {
        Self {
            headers,
            notes: Vec::new(),
        }
    }
}

/// Why [`Provider::sign`] could not sign.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The secret cannot sign (empty, or not the kind of key the provider uses).
    Secret(SecretError),
    /// A value cannot be sent as a header.
    Header(VerifyError),
    /// The provider signs the URL and none was given.
    NeedsUrl,
    /// Only the provider can sign its requests (it holds the private key).
    Unsupported(&'static str),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(err) => write!(f, "the secret cannot sign: {err}"),
            Self::Header(err) => err.fmt(f),
            Self::NeedsUrl => f.write_str("this provider signs the URL: give the URL"),
            Self::Unsupported(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for SignError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Secret(err) => Some(err),
            Self::Header(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SecretError> for SignError {
    fn from(err: SecretError) -> Self {
        Self::Secret(err)
    }
}

impl From<VerifyError> for SignError {
    fn from(err: VerifyError) -> Self {
        Self::Header(err)
    }
}

/// What the test kit's [`signed_event`](crate::testing::signed_event) asks a provider for.
pub(crate) struct EventSample<'a> {
    pub(crate) secret: &'a str,
    /// The whole type asked for (`pull_request.opened`).
    pub(crate) event_type: &'a str,
    /// Its part before the first dot (`pull_request`), and the rest (`opened`).
    pub(crate) kind: &'a str,
    pub(crate) action: Option<&'a str>,
    pub(crate) payload: serde_json::Value,
    /// Now, in Unix seconds and milliseconds.
    pub(crate) secs: u64,
    pub(crate) millis: u64,
    /// 32 fresh hex digits, and the same as a UUID.
    pub(crate) unique: &'a str,
    pub(crate) uuid: &'a str,
}

/// A provider's signed test-kit event.
#[cfg_attr(not(feature = "testing"), allow(dead_code))] // read only by `testing`
pub(crate) struct SampleRequest {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: HeaderMap,
    /// The URL it is posted to, for providers that sign it.
    pub(crate) url: Option<String>,
    /// The key its verifier takes when it is not the secret (Discord's public key).
    pub(crate) key: Option<String>,
}

impl SampleRequest {
    pub(crate) fn new(body: Vec<u8>, headers: HeaderMap) -> Self {
        Self {
            body,
            headers,
            url: None,
            key: None,
        }
    }
}

/// Every built-in provider, in the order [`detect`] tries them.
pub static ALL: &[&Provider] = &[
    &github::PROVIDER,
    &stripe::PROVIDER,
    // Before Standard Webhooks: GitLab's signing token sends `webhook-signature` too.
    &gitlab::PROVIDER,
    &standard::PROVIDER,
    &slack::PROVIDER,
    &twilio::PROVIDER,
    &discord::PROVIDER,
    &square::PROVIDER,
    &shopify::PROVIDER,
    &paddle::PROVIDER,
    &linear::PROVIDER,
    &zoom::PROVIDER,
];

/// What building a built-in scheme from configuration takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildArgs<'a> {
    /// Key material exactly as the provider issues it, one entry per secret (rotation).
    pub(crate) secrets: &'a [&'a str],
    /// The public URL the provider posts to, for schemes that sign it.
    pub(crate) url: Option<&'a str>,
    /// Accept secrets shorter than the scheme's minimum (see `dangerous`).
    pub(crate) short_ok: bool,
}

impl BuildArgs<'_> {
    /// The smallest secret accepted: `min`, or 1 where short secrets were allowed.
    pub(crate) fn min(&self, min: usize) -> usize {
        if self.short_ok {
            1
        } else {
            min
        }
    }

    /// [`min`](Self::min) of the 8 bytes asked of secrets used as they are.
    pub(crate) fn min_raw(&self) -> usize {
        self.min(crate::wire::mac::MIN_RAW_SECRET_LEN)
    }

    /// The secrets' bytes, in order.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.secrets.iter().map(|s| s.as_bytes())
    }

    /// The URL, or the error that says this scheme needs one.
    pub(crate) fn require_url(&self) -> Result<&str, VerifyError> {
        self.url.ok_or(VerifyError::BadSecret(
            crate::error::SecretError::WrongKind {
                reason: "this scheme signs the URL: configure the public URL the provider posts to",
            },
        ))
    }
}

/// The registry's `build` for a [`TextKeyed`](crate::scheme::verifier::TextKeyed) scheme: its secrets as text, the app's options.
pub(crate) fn build_text_keyed<S: crate::scheme::verifier::TextKeyed + 'static>(
    args: BuildArgs<'_>,
    options: VerifyOptions,
) -> Result<Verifier, VerifyError> {
    configured(
        Verifier::<S>::with_min(args.bytes(), args.min_raw()),
        options,
    )
}

/// What a registry `build` answers: `verifier` with the app's `options`, behind a boxed scheme.
pub(crate) fn configured<S: crate::scheme::verifier::Scheme + 'static>(
    verifier: Result<Verifier<S>, VerifyError>,
    options: VerifyOptions,
) -> Result<Verifier, VerifyError> {
    Ok(verifier?.with_options(options).boxed())
}

/// The key an event is routed by, read from the verified event as its sender defines it (see
/// the [envelope](crate::envelope) table): the built-in provider whose scheme verified it reads it, else the
/// type the scheme reported. `None` when the event carries no type: only a fallback route
/// takes it.
pub(crate) fn route_key(event: &Event) -> Option<RouteKey> {
    match crate::providers::by_scheme(event.scheme()) {
        Some(provider) => (provider.route_key)(event),
        None => crate::event::reported_route_key(event),
    }
}

/// The built-in provider called `name` (or one of its aliases), ignoring case.
///
/// ```
/// assert_eq!(verihook::providers::find("Svix").map(|p| p.name), Some("standard-webhooks"));
/// assert!(verihook::providers::find("nope").is_none());
/// ```
#[must_use]
pub fn find(name: &str) -> Option<&'static Provider> {
    ALL.iter().copied().find(|p| p.is_named(name))
}

/// The built-in provider whose signature (or token) header `headers` carry: the first of
/// [`ALL`] with one of its [`headers`](Provider::headers) present.
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// let mut headers = HeaderMap::new();
/// headers.insert("stripe-signature", HeaderValue::from_static("t=1,v1=00"));
/// assert_eq!(verihook::providers::detect(&headers).map(|p| p.name), Some("stripe"));
/// assert!(verihook::providers::detect(&HeaderMap::new()).is_none());
/// ```
#[must_use]
pub fn detect(headers: &HeaderMap) -> Option<&'static Provider> {
    ALL.iter()
        .copied()
        .find(|p| p.headers.iter().any(|name| headers.contains_key(*name)))
}

/// The provider whose scheme reported `scheme` (exactly its canonical name), for the
/// registry's consumers that start from a verified event.
pub(crate) fn by_scheme(scheme: &str) -> Option<&'static Provider> {
    ALL.iter().copied().find(|p| p.name == scheme)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::request::{RequestHead, WebhookRequest};

    #[test]
    fn finds_by_name_or_alias_ignoring_case() {
        for (asked, name) in [
            ("GitHub", "github"),
            ("svix", "standard-webhooks"),
            ("StandardWebhooks", "standard-webhooks"),
            ("standard", "standard-webhooks"),
        ] {
            assert_eq!(find(asked).map(|p| p.name), Some(name), "{asked}");
        }
        assert!(find("bitbucket").is_none());
        assert!(
            by_scheme("GitHub").is_none(),
            "a scheme's name is matched exactly"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn the_old_scheme_paths_still_answer() {
        let old: Option<&crate::scheme::Builtin> = crate::scheme::builtin("Stripe");
        assert_eq!(old.map(|b| b.name), Some("stripe"));
        assert_eq!(crate::scheme::BUILTINS.len(), ALL.len());
        assert!(crate::scheme::detect(&HeaderMap::new()).is_none());
    }

    #[test]
    fn gitlab_signing_tokens_are_detected_before_standard_webhooks() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-signature", http::HeaderValue::from_static("v1,x"));
        headers.insert(
            "x-gitlab-event",
            http::HeaderValue::from_static("Push Hook"),
        );
        assert_eq!(detect(&headers).map(|p| p.name), Some("gitlab"));
        headers.remove("x-gitlab-event");
        assert_eq!(detect(&headers).map(|p| p.name), Some("standard-webhooks"));
    }

    #[test]
    fn every_provider_signs_its_sample_as_its_verifier_expects() {
        let now = crate::sample::unix_now();
        for provider in ALL {
            // Of the form every provider accepts: Stripe's and Standard Webhooks' whsec_ prefix,
            // base64 after it, and long enough for all.
            let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
            let url = provider
                .signs_url
                .then_some("https://example.com/webhooks/x");
            let event = provider.sample_event_type();
            let body = provider.sample_body("msg_sample_1", event);
            let signed = provider.sign(&SignRequest {
                named: provider.name,
                secret,
                url,
                id: "msg_sample_1",
                event: provider.header_event(),
                timestamp: now,
                body: body.as_bytes(),
            });
            let signed = match signed {
                Err(SignError::Unsupported(_)) => continue,
                other => other.unwrap(),
            };
            let verifier = provider
                .build(&[secret], url, VerifyOptions::default())
                .unwrap();
            // The registry entry and the scheme's own `SchemeInfo` say the same.
            let info = verifier.info();
            assert_eq!(&*info.name, provider.name);
            let declared: Vec<&str> = info
                .signature_headers
                .iter()
                .map(http::HeaderName::as_str)
                .collect();
            assert_eq!(declared, provider.headers, "{}", provider.name);
            let method = http::Method::POST;
            let uri = http::Uri::from_static("/webhooks/x");
            let head = RequestHead::new(&method, &uri, &signed.headers);
            let body = bytes::Bytes::from(body);
            let verified = verifier.verify_request(&WebhookRequest::new(head, &body));
            assert!(verified.is_ok(), "{}: {verified:?}", provider.name);
            assert!(
                signed
                    .headers
                    .keys()
                    .all(|name| provider.spelling(name.as_str()).is_some()),
                "{}: a header without its spelling",
                provider.name
            );
        }
    }

    #[test]
    fn a_sign_request_and_a_gitlab_token_never_print_the_secret() {
        let secret = "glpat-a-token-that-is-the-secret";
        let request = SignRequest {
            named: "gitlab",
            secret,
            url: None,
            id: "b8f0a6c2-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            event: "Push Hook",
            timestamp: 1_700_000_000,
            body: b"{}",
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let gitlab = find("gitlab").unwrap();
        let signed = gitlab.sign(&request).unwrap();
        assert_eq!(signed.headers["x-gitlab-token"], secret);
        let shown = format!("{signed:?}");
        assert!(!shown.contains(secret), "{shown}");
    }

    #[test]
    fn svix_is_standard_webhooks_with_svix_header_names() {
        let standard = find("svix").unwrap();
        let signed = standard
            .sign(&SignRequest {
                named: "svix",
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                url: None,
                id: "msg_1",
                event: "",
                timestamp: 1_700_000_000,
                body: b"{}",
            })
            .unwrap();
        assert!(signed.headers.contains_key("svix-signature"));
        assert!(!signed.headers.contains_key("webhook-signature"));
    }
}
