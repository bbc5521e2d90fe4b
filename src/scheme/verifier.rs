//! What a scheme declares about itself ([`SchemeInfo`]), the policy resolved for one request
//! ([`Check`]), and the one verifier that joins a scheme's keys with the app's policy
//! ([`Verifier`]).

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName};

use crate::error::VerifyError;
use crate::event::{Event, SchemeName, Verified};
use crate::request::{RequestHead, WebhookRequest};
use crate::verify::{check_freshness, Clock, VerifyOptions, DEFAULT_TOLERANCE};
use crate::wire::mac::{MacKeys, MIN_RAW_SECRET_LEN};

/// What a scheme is, declared once as data: its name, the headers that mark a request as its
/// own, the largest body its sender sends and the freshness window its provider applies.
///
/// ```
/// use std::time::Duration;
/// use verihook::http::HeaderName;
/// use verihook::scheme::SchemeInfo;
///
/// static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-acme-signature")];
/// static INFO: SchemeInfo = SchemeInfo::new("acme", &HEADERS)
///     .with_body_limit(64 * 1024)
///     .with_tolerance(Duration::from_secs(60));
/// assert_eq!(&*INFO.name, "acme");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SchemeInfo {
    /// The scheme's name: the default sender name and the namespace of its idempotency keys.
    pub name: SchemeName,
    /// The headers (any one of them present) that mark a request as this scheme's: its
    /// signature or token header. Used to pick a sender when the route names none.
    pub signature_headers: Cow<'static, [HeaderName]>,
    /// The largest body this sender is expected to send; a [`Receiver`](crate::Receiver) may
    /// override it per sender.
    pub body_limit: usize,
    /// The freshness window the provider applies, used unless the verifier's
    /// [`VerifyOptions::tolerance`] is set. Meaningless for schemes that sign no timestamp.
    pub tolerance: Duration,
}

impl SchemeInfo {
    /// A scheme called `name`, recognised by `signature_headers`, with the default body limit
    /// ([`DEFAULT_BODY_LIMIT`]) and tolerance ([`DEFAULT_TOLERANCE`]).
    #[must_use]
    pub const fn new(name: &'static str, signature_headers: &'static [HeaderName]) -> Self {
        Self {
            name: SchemeName::from_static(name),
            signature_headers: Cow::Borrowed(signature_headers),
            body_limit: DEFAULT_BODY_LIMIT,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// [`new`](Self::new) for a name and headers read at run time (a declared scheme's).
    #[must_use]
    pub fn named(name: impl Into<SchemeName>, signature_headers: Vec<HeaderName>) -> Self {
        Self {
            name: name.into(),
            signature_headers: Cow::Owned(signature_headers),
            body_limit: DEFAULT_BODY_LIMIT,
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// The same, with another largest body.
    #[must_use]
    pub const fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// The same, with another default freshness window.
    #[must_use]
    pub const fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Whether `headers` carry one of the [`signature_headers`](Self::signature_headers).
    #[must_use]
    pub fn recognizes(&self, headers: &HeaderMap) -> bool {
        self.signature_headers
            .iter()
            .any(|name| headers.contains_key(name))
    }
}

/// The policy as resolved for one request: when "now" is and how far from it a signed
/// timestamp may be.
///
/// The clock is read only when a scheme asks for [`now`](Self::now): a scheme that signs no
/// timestamp never reads it.
#[derive(Clone, Copy, Debug)]
pub struct Check<'a> {
    now: Now<'a>,
    tolerance: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Now<'a> {
    At(SystemTime),
    Clock(&'a dyn Clock),
}

impl<'a> Check<'a> {
    /// "Now" read from `clock` when asked; timestamps within `tolerance` of it are fresh.
    #[must_use]
    pub fn new(clock: &'a dyn Clock, tolerance: Duration) -> Self {
        Self {
            now: Now::Clock(clock),
            tolerance,
        }
    }

    /// "Now" is `now` (a replay, a diagnosis, a test).
    #[must_use]
    pub fn at(now: SystemTime, tolerance: Duration) -> Check<'static> {
        Check {
            now: Now::At(now),
            tolerance,
        }
    }

    /// The current instant as the policy's clock reads it.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        match self.now {
            Now::At(now) => now,
            Now::Clock(clock) => clock.now(),
        }
    }

    /// The largest gap allowed between a signed timestamp and now, in either direction.
    #[must_use]
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Checks that `unix_seconds`, a signed timestamp, is within the tolerance of now.
    ///
    /// # Errors
    ///
    /// [`VerifyError::TimestampTooOld`] or [`VerifyError::TimestampInFuture`].
    pub fn fresh(&self, unix_seconds: u64) -> Result<(), VerifyError> {
        check_freshness(unix_seconds, self.now(), self.tolerance)
    }
}

/// How [`Verifier::verify`] answers for a scheme: an [`Event`] for schemes that answer no
/// handshake, a [`Verified`] (event or handshake) for those that do, and for boxed schemes.
///
/// An app's own scheme implements it to get `verify(&headers, body)`; without it, its
/// verifier has [`verify_request`](Verifier::verify_request).
pub trait Answers: Scheme {
    /// What `verify` hands back.
    type Answer;

    /// The answer for a request that verified.
    ///
    /// # Errors
    ///
    /// When the scheme answered something its verifier does not hand back (a handshake from
    /// a scheme declared to have none).
    fn answer(verified: Verified) -> Result<Self::Answer, VerifyError>;

    /// Verifies `headers` and the raw `body` of a `POST` under `at`, as
    /// [`Verifier::verify`] does. The default builds the request and calls
    /// [`verify`](Scheme::verify); a scheme whose event keeps the body may take it as it is,
    /// without a copy.
    ///
    /// # Errors
    ///
    /// As [`verify`](Scheme::verify).
    #[inline]
    fn answer_post(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Self::Answer, VerifyError> {
        let request = WebhookRequest::new(RequestHead::post(headers), &body);
        Self::answer(self.verify(&request, at)?)
    }
}

/// A scheme that answers every request it verifies with an [`Event`] (it has no handshake)
/// and reads only the headers and the raw body: its [`Answers`] come with it, and
/// [`Verifier::verify`] hands it the body as it is, without building a request.
pub trait Events: Scheme {
    /// Verifies `headers` and the raw `body` of a `POST` under `at`: what
    /// [`verify`](Scheme::verify) answers for that request, as an [`Event`].
    ///
    /// # Errors
    ///
    /// As [`verify`](Scheme::verify).
    fn check(&self, headers: &HeaderMap, body: Bytes, at: &Check<'_>)
        -> Result<Event, VerifyError>;
}

impl<S: Events> Answers for S {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
    #[inline]
    fn answer_post(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        at: &Check<'_>,
    ) -> Result<Event, VerifyError> {
        self.check(headers, body, at)
    }
}

/// The [`Answers::answer`] of a scheme that answers no handshake.
pub(crate) fn event_only(verified: Verified) -> Result<Event, VerifyError> {
    match verified {
        Verified::Event(event) => Ok(event),
        // This scheme answers no handshake.
        _ => Err(VerifyError::MissingHeader { name: "event" }),
    }
}

impl Answers for Box<dyn Scheme> {
    type Answer = Verified;
    fn answer(verified: Verified) -> Result<Verified, VerifyError> {
        Ok(verified)
    }
}

impl Answers for Arc<dyn Scheme> {
    type Answer = Verified;
    fn answer(verified: Verified) -> Result<Verified, VerifyError> {
        Ok(verified)
    }
}

/// A scheme's keys with the app's policy: the clock, the tolerance, the options. Written once
/// for every scheme; each provider's verifier is one of them
/// (`StripeVerifier` is `Verifier<Stripe>`).
///
/// ```
/// use verihook::scheme::Verifier;
/// use verihook::{testing::StripeSigner, scheme::FixedClock, providers::stripe::StripeVerifier, WebhookRequest, RequestHead};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let headers = StripeSigner::new("whsec_test_secret")?.sign(1_700_000_000, b"{}");
/// let verifier: Verifier = StripeVerifier::new("whsec_test_secret")?
///     .with_clock(FixedClock::at_unix(1_700_000_010))
///     .boxed();
/// let body = verihook::bytes::Bytes::from_static(b"{}");
/// let verified = verifier.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &body))?;
/// assert_eq!(verified.into_event().unwrap().scheme(), "stripe");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier<S = Box<dyn Scheme>> {
    pub(crate) scheme: S,
    pub(crate) options: VerifyOptions,
}

impl<S: Scheme> Verifier<S> {
    /// A verifier for `scheme` with the default policy (system clock, the scheme's tolerance).
    #[must_use]
    pub fn for_scheme(scheme: S) -> Self {
        Self {
            scheme,
            options: VerifyOptions::default(),
        }
    }

    /// Replaces all options at once.
    #[must_use]
    pub fn with_options(mut self, options: VerifyOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the largest gap allowed between the signed timestamp and now.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.options.tolerance = Some(tolerance);
        self
    }

    /// Reads "now" from `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.options.clock = Arc::new(clock);
        self
    }

    /// The scheme (its keys).
    #[must_use]
    pub fn scheme(&self) -> &S {
        &self.scheme
    }

    /// The scheme, without the policy (to wrap it in a scheme of one's own).
    #[must_use]
    pub fn into_scheme(self) -> S {
        self.scheme
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// What the scheme declares about itself.
    #[must_use]
    pub fn info(&self) -> &SchemeInfo {
        self.scheme.info()
    }

    /// The scheme's name (`github`, `stripe`, ...).
    #[must_use]
    pub fn name(&self) -> &str {
        self.info().name.as_str()
    }

    /// The largest body the scheme's sender is expected to send.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.info().body_limit
    }

    /// Whether `headers` look like this scheme's (one of its signature headers is present).
    #[must_use]
    pub fn recognizes(&self, headers: &HeaderMap) -> bool {
        self.info().recognizes(headers)
    }

    /// The policy for a request verified now: the clock (read only if the scheme asks) and
    /// the tolerance set, else the scheme's own.
    #[must_use]
    pub fn check(&self) -> Check<'_> {
        Check::new(&*self.options.clock, self.tolerance())
    }

    /// The policy for a request verified as of `now` (a replay, a diagnosis).
    #[must_use]
    pub fn check_at(&self, now: SystemTime) -> Check<'static> {
        Check::at(now, self.tolerance())
    }

    fn tolerance(&self) -> Duration {
        self.options.tolerance_or(self.scheme.info().tolerance)
    }

    /// Cheap checks on the head alone, before the body is read.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] that verifying the whole request would give anyway.
    pub fn check_head(&self, head: &RequestHead<'_>) -> Result<(), VerifyError> {
        self.scheme.check_head(head, &self.check())
    }

    /// [`check_head`](Self::check_head) as of `now` instead of the verifier's clock.
    ///
    /// # Errors
    ///
    /// As [`check_head`](Self::check_head).
    pub fn check_head_at(
        &self,
        head: &RequestHead<'_>,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.scheme.check_head(head, &self.check_at(now))
    }

    /// Verifies a request (method, URL, headers, raw body) as of the verifier's clock.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not authentic or not fresh.
    pub fn verify_request(&self, request: &WebhookRequest<'_>) -> Result<Verified, VerifyError> {
        self.scheme.verify(request, &self.check())
    }

    /// Verifies a request as of `now` instead of the verifier's clock.
    ///
    /// # Errors
    ///
    /// As [`verify_request`](Self::verify_request).
    pub fn verify_at(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.scheme.verify(request, &self.check_at(now))
    }

    /// The same keys and policy behind a boxed scheme, as a [`Receiver`](crate::Receiver)
    /// holds them.
    #[must_use]
    pub fn boxed(self) -> Verifier
    where
        S: 'static,
    {
        Verifier {
            scheme: boxed(self.scheme),
            options: self.options,
        }
    }
}

impl<S: Scheme + 'static> Verifier<S> {
    /// The same keys and policy behind a shared scheme: a verifier that clones cheaply.
    #[must_use]
    pub fn shared(self) -> Verifier<Arc<dyn Scheme>> {
        Verifier {
            scheme: Arc::from(boxed(self.scheme)),
            options: self.options,
        }
    }
}

impl<S: Answers> Verifier<S> {
    /// Verifies `headers` and the raw `body` (as a `POST`) as of the verifier's clock: an
    /// [`Event`], or for schemes with handshakes a [`Verified`].
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not authentic or not fresh.
    pub fn verify(&self, headers: &HeaderMap, body: Bytes) -> Result<S::Answer, VerifyError> {
        self.scheme.answer_post(headers, body, &self.check())
    }

    /// Verifies a whole `http::Request` whose body has been read (needed for schemes that
    /// sign the URL), as of the verifier's clock.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not authentic or not fresh.
    pub fn verify_http(&self, request: &http::Request<Bytes>) -> Result<S::Answer, VerifyError> {
        let request = WebhookRequest::from_http(request);
        S::answer(self.scheme.verify(&request, &self.check())?)
    }
}

impl<S: fmt::Debug> fmt::Debug for Verifier<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The scheme's own Debug shows how many keys it holds, never a key.
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("options", &self.options)
            .finish()
    }
}

/// What a [`Receiver`](crate::Receiver) sender is made from: a scheme (with the default
/// policy) or a [`Verifier`] (a scheme with its policy).
pub trait IntoVerifier {
    /// The keys and policy, behind a boxed scheme.
    fn into_verifier(self) -> Verifier;
}

impl<S: Scheme + 'static> IntoVerifier for S {
    fn into_verifier(self) -> Verifier {
        Verifier::for_scheme(boxed(self))
    }
}

impl<S: Scheme + 'static> IntoVerifier for Verifier<S> {
    fn into_verifier(self) -> Verifier {
        self.boxed()
    }
}

/// `scheme` behind a box, without boxing a scheme that already is one (each box would cost an
/// indirection per request).
fn boxed<S: Scheme + 'static>(scheme: S) -> Box<dyn Scheme> {
    let mut slot = Some(scheme);
    if let Some(already) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<Box<dyn Scheme>>>()
        .and_then(Option::take)
    {
        return already;
    }
    match slot {
        Some(scheme) => Box::new(scheme),
        None => unreachable!("taken only when it was a boxed scheme"),
    }
}

/// A scheme keyed by HMAC-SHA256 secrets used as text, as its provider shows them (Linear,
/// Paddle, Shopify, Slack, Zoom): its verifier is made with [`Verifier::new`] or
/// [`Verifier::with_secrets`]. Only the built-in schemes implement it.
pub trait TextKeyed: Scheme + Sized {
    /// The scheme's name, for the errors that refuse its secrets.
    #[doc(hidden)]
    const NAME: &'static str;

    /// The scheme holding `keys`.
    #[doc(hidden)]
    fn from_keys(keys: TextKeys) -> Self;
}

/// The keys of a [`TextKeyed`] scheme: one HMAC-SHA256 per secret, keyed once. Opaque: only
/// this crate makes them, which keeps [`TextKeyed`] to the built-in schemes.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct TextKeys(pub(crate) MacKeys<hmac::Hmac<sha2::Sha256>>);

impl<S: TextKeyed> Verifier<S> {
    /// A verifier for the signing secret, as the provider shows it (each provider's verifier
    /// says where to find it).
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
        Self::with_min(secrets, MIN_RAW_SECRET_LEN)
    }

    /// [`with_secrets`](Self::with_secrets), with `min` as the shortest secret accepted.
    pub(crate) fn with_min<I>(secrets: I, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys =
            MacKeys::from_secrets(secrets, min).map_err(|e: VerifyError| e.for_scheme(S::NAME))?;
        Ok(Verifier::for_scheme(S::from_keys(TextKeys(keys))))
    }
}

/// The default largest body, for schemes whose provider documents no cap: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Checks that a request really comes from one sender: a webhook signing scheme and its keys.
///
/// A scheme declares what it is once, as data ([`info`](Self::info)), and writes two
/// functions: [`check_head`](Self::check_head) (cheap, before the body is read) and
/// [`verify`](Self::verify) (the whole request). The policy — the clock, the tolerance — is
/// not the scheme's: a [`Verifier`] holds it and hands each call the [`Check`] resolved for
/// the request. Implementations are pure: no I/O, bounded work, constant-time comparisons,
/// and (for the built-in schemes) no heap allocation.
///
/// An app's own scheme, written with the public API alone:
///
/// ```
/// use std::time::Duration;
/// use verihook::http::{HeaderMap, HeaderName, HeaderValue};
/// use verihook::scheme::{Check, SchemeInfo, Verifier};
/// use verihook::{Event, event::Field, scheme::FixedClock, RequestHead, Scheme, event::Verified, VerifyError, WebhookRequest};
///
/// /// Acme sends `X-Acme-Token: <token>` and `X-Acme-Time: <unix seconds>` (a toy scheme).
/// #[derive(Debug)]
/// struct Acme {
///     token: &'static str,
/// }
///
/// static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-acme-token")];
/// static INFO: SchemeInfo = SchemeInfo::new("acme", &HEADERS).with_tolerance(Duration::from_secs(60));
///
/// fn time(head: &RequestHead<'_>) -> Result<u64, VerifyError> {
///     let value = head.headers().get("x-acme-time").ok_or(VerifyError::MissingHeader { name: "X-Acme-Time" })?;
///     value.to_str().ok().and_then(|text| text.parse().ok())
///         .ok_or(VerifyError::MalformedHeader { name: "X-Acme-Time", reason: "not Unix seconds" })
/// }
///
/// impl Scheme for Acme {
///     fn info(&self) -> &SchemeInfo {
///         &INFO
///     }
///
///     fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
///         at.fresh(time(head)?)
///     }
///
///     fn verify(&self, request: &WebhookRequest<'_>, at: &Check<'_>) -> Result<Verified, VerifyError> {
///         let seconds = time(&request.head())?;
///         at.fresh(seconds)?;
///         // A real scheme compares a MAC in constant time; a toy compares a token.
///         let sent = request.headers().get("x-acme-token").map(HeaderValue::as_bytes);
///         if sent != Some(self.token.as_bytes()) {
///             return Err(VerifyError::SignatureMismatch { secrets: 1, signatures: 1 });
///         }
///         Ok(Verified::Event(
///             Event::builder(INFO.name.clone(), request.body().clone())
///                 .id(Field::Body("id"), true)
///                 .timestamp(seconds)
///                 .build(),
///         ))
///     }
/// }
///
/// let verifier = Verifier::for_scheme(Acme { token: "s3cret" }).with_clock(FixedClock::at_unix(1_700_000_030));
/// let mut headers = HeaderMap::new();
/// headers.insert("x-acme-token", HeaderValue::from_static("s3cret"));
/// headers.insert("x-acme-time", HeaderValue::from_static("1700000000"));
/// let body = verihook::bytes::Bytes::from_static(br#"{"id":"a1"}"#);
/// let verified = verifier.verify_request(&WebhookRequest::new(RequestHead::post(&headers), &body))?;
/// assert_eq!(verified.into_event().unwrap().idempotency_key(), "acme:a1");
/// # Ok::<(), VerifyError>(())
/// ```
pub trait Scheme: Send + Sync + fmt::Debug {
    /// What the scheme is: its name, signature headers, body limit and default tolerance.
    fn info(&self) -> &SchemeInfo;

    /// Cheap checks on the head alone (required headers present and well formed, timestamp
    /// fresh), run before the body is read. The default checks nothing.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] that [`verify`](Self::verify) would give anyway.
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        let _ = (head, at);
        Ok(())
    }

    /// The full check over the raw body, under the policy `at` resolved for this request.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] saying why the request is not authentic or not fresh.
    fn verify(&self, request: &WebhookRequest<'_>, at: &Check<'_>)
        -> Result<Verified, VerifyError>;
}

impl<S: Scheme + ?Sized> Scheme for Box<S> {
    fn info(&self) -> &SchemeInfo {
        (**self).info()
    }
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        (**self).check_head(head, at)
    }
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        (**self).verify(request, at)
    }
}

impl<S: Scheme + ?Sized> Scheme for Arc<S> {
    fn info(&self) -> &SchemeInfo {
        (**self).info()
    }
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        (**self).check_head(head, at)
    }
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        (**self).verify(request, at)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::providers::github::GithubVerifier;
    use crate::providers::stripe::StripeVerifier;
    use crate::testing::{GithubSigner, StripeSigner};

    /// A clock that counts how often it is read.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    impl Clock for Counting {
        fn now(&self) -> SystemTime {
            self.0.fetch_add(1, Ordering::Relaxed);
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        }
    }

    #[test]
    fn a_scheme_without_a_timestamp_never_reads_the_clock() {
        let reads = Arc::new(AtomicUsize::new(0));
        let body = Bytes::from_static(b"{}");
        let headers = GithubSigner::new("a-github-secret")
            .unwrap()
            .sign_delivery("d-1", "push", &body)
            .unwrap();
        let github = GithubVerifier::new("a-github-secret")
            .unwrap()
            .with_clock(Counting(reads.clone()));
        assert!(github.verify(&headers, body.clone()).is_ok());
        let boxed = github.boxed();
        let request = WebhookRequest::new(RequestHead::post(&headers), &body);
        assert!(boxed.check_head(&request.head()).is_ok());
        assert!(boxed.verify_request(&request).is_ok());
        assert_eq!(reads.load(Ordering::Relaxed), 0);

        let headers = StripeSigner::new("whsec_a_stripe_secret")
            .unwrap()
            .sign(1_700_000_000, &body);
        let stripe = StripeVerifier::new("whsec_a_stripe_secret")
            .unwrap()
            .with_clock(Counting(reads.clone()));
        assert!(stripe.verify(&headers, body.clone()).is_ok());
        assert_eq!(
            reads.load(Ordering::Relaxed),
            1,
            "one read per verification"
        );
    }

    #[test]
    fn a_boxed_scheme_is_not_boxed_again() {
        let boxed: Box<dyn Scheme> = Box::new(
            StripeVerifier::new("whsec_a_stripe_secret")
                .unwrap()
                .into_scheme(),
        );
        let address = std::ptr::from_ref::<dyn Scheme>(&*boxed).cast::<u8>();
        let again = super::boxed(boxed);
        assert_eq!(
            std::ptr::from_ref::<dyn Scheme>(&*again).cast::<u8>(),
            address
        );
        assert_eq!(&*again.info().name, "stripe");
    }

    #[test]
    fn scheme_names_compare_by_text_and_stay_thin() {
        let shared = SchemeName::from(String::from("acme"));
        assert_eq!(shared, SchemeName::from_static("acme"));
        assert_eq!(shared.clone(), "acme");
        assert_eq!(
            std::mem::size_of::<SchemeName>(),
            std::mem::size_of::<&str>()
        );
    }
}
