//! Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 (or HMAC-SHA256, when
//! `X-Twilio-Webhooks-Signature-Settings` names it) of the URL followed by the POST parameters
//! sorted by name; JSON bodies through the `bodySHA256` query parameter.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::VerifyError;
use crate::event::{Event, Field, Verified};
use crate::providers::configured;
use crate::providers::BuildArgs;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::verifier::{event_only, Answers, Check, Scheme, SchemeInfo, Verifier};
use crate::verify::Header;
use crate::verify::VerifyOptions;
use crate::wire::header::hex_array;
use crate::wire::mac::{constant_time_eq, MacKeys, MIN_RAW_SECRET_LEN};
use crate::wire::url::PublicUrl;

static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-twilio-signature")];
static INFO: SchemeInfo = SchemeInfo::new("twilio", &HEADERS);

pub(crate) static SIGNATURE: Header = Header::new("x-twilio-signature", "X-Twilio-Signature");
pub(crate) static SETTINGS: Header = Header::new(
    "x-twilio-webhooks-signature-settings",
    "X-Twilio-Webhooks-Signature-Settings",
);
pub(crate) static IDEMPOTENCY: Header =
    Header::new("i-twilio-idempotency-token", "I-Twilio-Idempotency-Token");

/// The most form parameters a request may carry (Twilio sends a few dozen).
pub(crate) const MAX_PARAMS: usize = 256;

/// Verifies Twilio webhooks: `X-Twilio-Signature`, the base64 HMAC-SHA1 of the URL Twilio
/// requested followed by each POST parameter's name and value, sorted by name (then value,
/// repeated pairs once), under the account's auth token.
///
/// When a Twilio webhook rule signs with a shared key, the request carries
/// `X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=HMAC_SHA256` and the signature is
/// an HMAC-SHA256 of the same string: the header's algorithm is then the only one accepted (a
/// SHA-1 signature under it is refused), and an algorithm other than `HMAC_SHA1` or
/// `HMAC_SHA256` is refused as a malformed header. Configure the shared key as a secret (next
/// to the auth token during a move); [`require_sha256`](Self::require_sha256) refuses SHA-1
/// altogether.
///
/// Twilio signs the URL, so the verifier is built with the public URL configured in Twilio; the
/// request's path must be its path, and the query the request arrived with is signed too. As
/// Twilio's SDKs do, the URL is tried as configured and with the default port added (or a
/// given port removed). A JSON body is signed through the URL's `bodySHA256` query parameter,
/// which must equal the body's SHA-256. Without `bodySHA256`, the body is read as form
/// parameters: their decoded names and values are signed, not the raw bytes, so the key that
/// de-duplicates is a digest of those signed parameters and the URL path, not of the raw body.
/// Twilio signs no timestamp: a replay is a duplicate for as long as the store retains the key.
///
/// Security note on form bodies: Twilio runs the names and values together with no separator,
/// so one signature also covers other splits of the same characters (`Body=hello&To=+1415...`
/// and `Body=helloT&o=+1415...`), other encodings, orders and repeats of the parameters. The
/// verifier cannot tell these apart: it keys the event on what was signed (a re-split replay is
/// a duplicate of the original), and [`Signed::body`](crate::event::Signed::body) is false for a form
/// body, since the split that arrived is not what was signed. An app that reads the form should
/// validate each parameter's format (a phone number, a `SID` of the expected prefix and length)
/// rather than trust the split. A JSON body is covered byte for byte through `bodySHA256`.
/// `I-Twilio-Idempotency-Token` is unsigned: it is reported as the id of JSON events only, and
/// never used to de-duplicate.
///
/// ```
/// use verihook::{testing::TwilioSigner, providers::twilio::TwilioVerifier};
/// # fn main() -> Result<(), verihook::VerifyError> {
/// let url = "https://example.com/webhooks/twilio";
/// let body = b"CallSid=CA123&From=%2B14158675309";
/// let headers = TwilioSigner::new("auth-token-12345")?.sign_form(url, body)?;
/// let mut request = http::Request::post("/webhooks/twilio").body(bytes::Bytes::from_static(body)).unwrap();
/// *request.headers_mut() = headers;
/// let verifier = TwilioVerifier::new("auth-token-12345", url)?;
/// assert!(verifier.verify_http(&request).is_ok());
/// # Ok(()) }
/// ```
pub type TwilioVerifier = Verifier<Twilio>;

/// Twilio's scheme: the keys and the public URL they sign. Its policy is the [`TwilioVerifier`]'s
/// (this scheme signs no timestamp: it never reads the clock).
#[derive(Clone, Debug)]
pub struct Twilio {
    keys: MacKeys<Hmac<Sha1>>,
    keys_sha256: MacKeys<Hmac<Sha256>>,
    sha256_only: bool,
    url: PublicUrl,
}

impl TwilioVerifier {
    /// A verifier for the auth token and the public URL Twilio posts to.
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`] when the token is empty or shorter than 8 bytes, or the URL
    /// is not an absolute `https://` or `http://` URL.
    pub fn new(auth_token: impl AsRef<[u8]>, url: &str) -> Result<Self, VerifyError> {
        Self::with_secrets([auth_token], url)
    }

    /// A verifier that accepts a signature from any of `auth_tokens` (primary and secondary).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or when there are no tokens.
    pub fn with_secrets<I>(auth_tokens: I, url: &str) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        Self::with_min(auth_tokens, url, MIN_RAW_SECRET_LEN)
    }

    fn with_min<I>(auth_tokens: I, url: &str, min: usize) -> Result<Self, VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let tokens: Vec<I::Item> = auth_tokens.into_iter().collect();
        Ok(Verifier::for_scheme(Twilio {
            keys: MacKeys::from_secrets(tokens.iter().map(AsRef::as_ref), min)?,
            keys_sha256: MacKeys::from_secrets(tokens.iter().map(AsRef::as_ref), min)?,
            sha256_only: false,
            url: PublicUrl::parse(url)?,
        }))
    }

    /// The same verifier, refusing every request not signed with HMAC-SHA256 (one without
    /// `X-Twilio-Webhooks-Signature-Settings`, or whose settings name `HMAC_SHA1`), for an
    /// endpoint whose Twilio webhook rule signs with a shared key.
    ///
    /// ```
    /// use verihook::{testing::TwilioSigner, providers::twilio::TwilioVerifier};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let url = "https://example.com/webhooks/twilio";
    /// let body = b"CallSid=CA123&From=%2B14158675309";
    /// let verifier = TwilioVerifier::new("shared-key-12345", url)?.require_sha256();
    /// let sign = |signer: TwilioSigner| -> Result<_, Box<dyn std::error::Error>> {
    ///     let mut request = http::Request::post("/webhooks/twilio")
    ///         .body(bytes::Bytes::from_static(body))?;
    ///     *request.headers_mut() = signer.sign_form(url, body)?;
    ///     Ok(request)
    /// };
    /// let sha256 = sign(TwilioSigner::new("shared-key-12345")?.sha256())?;
    /// assert!(verifier.verify_http(&sha256).is_ok());
    /// let sha1 = sign(TwilioSigner::new("shared-key-12345")?)?;
    /// assert!(verifier.verify_http(&sha1).is_err());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn require_sha256(mut self) -> Self {
        self.scheme.sha256_only = true;
        self
    }
}

impl Twilio {
    /// The algorithm the request says it was signed with, and its signature (20 or 32 bytes at
    /// the front of the array).
    fn signature(&self, headers: &HeaderMap) -> Result<(Algorithm, [u8; 32]), VerifyError> {
        let algorithm = match SETTINGS.get(headers) {
            Some(settings) => Algorithm::named_in(settings.as_bytes())?,
            None if self.sha256_only => return Err(SETTINGS.missing()),
            None => Algorithm::Sha1,
        };
        if self.sha256_only && algorithm != Algorithm::Sha256 {
            return Err(SETTINGS.malformed("HMAC_SHA256 is required"));
        }
        let value = SIGNATURE.require(headers)?.as_bytes();
        let mut signature = [0u8; 32];
        match (algorithm, STANDARD.decode_slice(value, &mut signature)) {
            (Algorithm::Sha1, Ok(20)) | (Algorithm::Sha256, Ok(32)) => Ok((algorithm, signature)),
            (Algorithm::Sha1, _) => Err(SIGNATURE.malformed("expected the base64 of 20 bytes")),
            (Algorithm::Sha256, _) => Err(SIGNATURE.malformed("expected the base64 of 32 bytes")),
        }
    }
}

/// The MAC a request is signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Sha1,
    Sha256,
}

impl Algorithm {
    /// The `algorithm=` entry of a `X-Twilio-Webhooks-Signature-Settings` value
    /// (`key=<id>,algorithm=HMAC_SHA256`): exactly one, naming a known MAC.
    fn named_in(settings: &[u8]) -> Result<Self, VerifyError> {
        let mut named = None;
        for entry in settings.split(|&b| b == b',') {
            let entry = entry.trim_ascii();
            let Some(value) = entry.strip_prefix(b"algorithm=") else {
                continue;
            };
            if named.is_some() {
                return Err(SETTINGS.malformed("more than one algorithm"));
            }
            named = Some(match value.trim_ascii() {
                b"HMAC_SHA256" => Self::Sha256,
                b"HMAC_SHA1" => Self::Sha1,
                _ => {
                    return Err(
                        SETTINGS.malformed("an algorithm other than HMAC_SHA1 or HMAC_SHA256")
                    )
                }
            });
        }
        named.ok_or_else(|| SETTINGS.malformed("no algorithm entry"))
    }
}

/// Whether the MAC of one of `urls` followed by `params` under any of `keys` is `signature`.
fn matches<M: Mac + KeyInit + Clone>(
    keys: &MacKeys<M>,
    urls: &[[&[u8]; 4]],
    params: &Params<'_>,
    signature: &[u8],
) -> bool {
    urls.iter().any(|url| {
        keys.matches_any_fed(
            |mac| {
                for piece in url {
                    mac.update(piece);
                }
                params.feed(mac);
            },
            || std::iter::once(signature),
        )
    })
}

/// The `bodySHA256` query parameter's value, if the query has one.
fn body_sha256(query: Option<&str>) -> Option<&[u8]> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("bodySHA256="))
        .map(str::as_bytes)
}

impl Answers for Twilio {
    type Answer = Event;
    fn answer(verified: Verified) -> Result<Event, VerifyError> {
        event_only(verified)
    }
}

impl Scheme for Twilio {
    fn info(&self) -> &SchemeInfo {
        &INFO
    }

    fn check_head(&self, head: &RequestHead<'_>, _at: &Check<'_>) -> Result<(), VerifyError> {
        self.signature(head.headers())?;
        self.url.signed(head.uri()).map(|_| ())
    }

    /// Twilio signs no timestamp, so `now` is not read.
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        _at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        let head = request.head();
        let (algorithm, signature) = self.signature(head.headers())?;
        let urls = self.url.signed(head.uri())?;
        let body = request.body();
        let json_hash = body_sha256(head.uri().query());
        let mut scratch;
        let params = match json_hash {
            Some(_) => Params::EMPTY,
            None => {
                scratch = Scratch::new();
                Params::parse(body, scratch.for_body(body))?
            }
        };
        let matched = match algorithm {
            Algorithm::Sha1 => matches(&self.keys, &urls, &params, &signature[..20]),
            Algorithm::Sha256 => matches(&self.keys_sha256, &urls, &params, &signature),
        };
        if !matched {
            return Err(self.keys.mismatch(1));
        }
        if let Some(expected) = json_hash {
            let expected: [u8; 32] = hex_array(expected)
                .ok_or_else(|| SIGNATURE.malformed("bodySHA256 is not 64 hex digits"))?;
            if !constant_time_eq(&Sha256::digest(body), &expected) {
                return Err(self.keys.mismatch(1));
            }
        }
        let id = match IDEMPOTENCY.get(head.headers()) {
            Some(value) if IDEMPOTENCY.text(value).is_ok() => Field::Header(value.clone()),
            _ => Field::Absent,
        };
        let mut event = Event::builder("twilio", body.clone()).id(id, false);
        if json_hash.is_none() {
            // The raw form bytes are not what is signed: de-duplicate on what is.
            let mut digest = Sha256::new();
            digest.update(head.uri().path());
            digest.update(head.uri().query().unwrap_or_default());
            params.feed(&mut DigestSink(&mut digest));
            event = event.content_digest(digest.finalize().into());
        }
        let mut event = event.build();
        // A form body as split is not what was signed (the parameters run together are).
        event.signed.body_unsigned = json_hash.is_none();
        Ok(Verified::Event(event))
    }
}

/// Writes the form parameters of `body` into `write` as Twilio signs them (for the signer).
pub(crate) fn feed_form(body: &[u8], write: &mut dyn FnMut(&[u8])) -> Result<(), VerifyError> {
    struct Writer<'w>(&'w mut dyn FnMut(&[u8]));
    impl Sink for Writer<'_> {
        fn write(&mut self, bytes: &[u8]) {
            (self.0)(bytes);
        }
    }
    let mut scratch = Scratch::new();
    Params::parse(body, scratch.for_body(body))?.feed(&mut Writer(write));
    Ok(())
}

/// Lets the parameter feed write into a SHA-256 as into a MAC.
struct DigestSink<'a>(&'a mut Sha256);

/// Something the signed parameters are written into.
trait Sink {
    fn write(&mut self, bytes: &[u8]);
}

impl<M: Mac> Sink for M {
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for DigestSink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Bodies up to this size are decoded on the stack; larger ones into one heap buffer.
const STACK_SCRATCH: usize = 8 * 1024;

/// Where a form body is decoded: the stack for the bodies Twilio really sends (a few KiB, no
/// allocation), one buffer of the body's size for larger ones.
struct Scratch {
    stack: [u8; STACK_SCRATCH],
    heap: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            stack: [0; STACK_SCRATCH],
            heap: Vec::new(),
        }
    }

    /// Room for `body` decoded (never longer than `body`).
    fn for_body(&mut self, body: &[u8]) -> &mut [u8] {
        if body.len() <= STACK_SCRATCH {
            &mut self.stack[..body.len()]
        } else {
            self.heap.resize(body.len(), 0);
            &mut self.heap
        }
    }
}

/// The form parameters of a body, decoded once and sorted as Twilio signs them (by name, then
/// value). Decoding first keeps sorting to plain byte comparisons: comparing encoded parameters
/// decoded on the fly cost a forged 1 MiB form several times its hashing.
struct Params<'s> {
    decoded: &'s [u8],
    /// Each parameter as (start, end of name, end of value) in `decoded`.
    items: [(usize, usize, usize); MAX_PARAMS],
    len: usize,
}

impl<'s> Params<'s> {
    const EMPTY: Self = Self {
        decoded: &[],
        items: [(0, 0, 0); MAX_PARAMS],
        len: 0,
    };

    /// Decodes the parameters of `body` into `scratch` (at least `body.len()` bytes) and sorts
    /// them.
    fn parse(body: &[u8], scratch: &'s mut [u8]) -> Result<Self, VerifyError> {
        let mut params = Self::EMPTY;
        let mut end = 0;
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if params.len == MAX_PARAMS {
                return Err(SIGNATURE.malformed("the body has more than 256 form parameters"));
            }
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let start = end;
            end = decode_into(scratch, end, name);
            let name_end = end;
            end = decode_into(scratch, end, value);
            params.items[params.len] = (start, name_end, end);
            params.len += 1;
        }
        let decoded: &'s [u8] = &scratch[..end];
        params.decoded = decoded;
        params.items[..params.len]
            .sort_unstable_by(|a, b| Self::pair(decoded, *a).cmp(&Self::pair(decoded, *b)));
        Ok(params)
    }

    fn pair(decoded: &[u8], (start, name_end, end): (usize, usize, usize)) -> (&[u8], &[u8]) {
        (&decoded[start..name_end], &decoded[name_end..end])
    }

    /// Writes each distinct (name, value) in order.
    fn feed(&self, sink: &mut impl Sink) {
        let mut previous = None;
        for &item in &self.items[..self.len] {
            let (name, value) = Self::pair(self.decoded, item);
            if previous == Some((name, value)) {
                continue;
            }
            sink.write(name);
            sink.write(value);
            previous = Some((name, value));
        }
    }
}

/// Writes `raw` form-decoded into `scratch` from `at`; gives where it ended. `scratch` has room:
/// decoding never lengthens, and the whole body fits.
fn decode_into(scratch: &mut [u8], mut at: usize, raw: &[u8]) -> usize {
    for byte in Decoded::new(raw) {
        scratch[at] = byte;
        at += 1;
    }
    at
}

/// The bytes of a form-encoded name or value, decoded: `+` is a space and `%XX` a byte; a `%`
/// not followed by two hex digits stands for itself.
#[derive(Clone)]
struct Decoded<'a> {
    raw: &'a [u8],
}

impl<'a> Decoded<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Self { raw }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.raw.split_first()?;
        match first {
            b'+' => {
                self.raw = rest;
                Some(b' ')
            }
            b'%' => match rest.get(..2).and_then(hex_array::<1>) {
                Some([byte]) => {
                    self.raw = &rest[2..];
                    Some(byte)
                }
                None => {
                    self.raw = rest;
                    Some(b'%')
                }
            },
            other => {
                self.raw = rest;
                Some(other)
            }
        }
    }
}

// Everything else verihook knows about Twilio: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Twilio does: HMAC-SHA1 under the auth token, or HMAC-SHA256 under a
/// webhook rule's shared key with [`sha256`](Self::sha256).
#[derive(Clone)]
pub struct TwilioSigner {
    keys: crate::wire::mac::MacKeys<hmac::Hmac<sha1::Sha1>>,
    keys_sha256: crate::wire::mac::MacKeys<hmac::Hmac<sha2::Sha256>>,
    sha256: bool,
}

impl TwilioSigner {
    /// A signer for the account's auth token (or a webhook rule's shared key).
    ///
    /// # Errors
    ///
    /// [`SecretError`](crate::error::SecretError) when the token is empty.
    pub fn new(auth_token: impl AsRef<[u8]>) -> Result<Self, crate::error::SecretError> {
        Ok(Self {
            keys: crate::wire::mac::MacKeys::new([auth_token.as_ref()], crate::sample::ANY_LENGTH)?,
            keys_sha256: crate::wire::mac::MacKeys::new(
                [auth_token.as_ref()],
                crate::sample::ANY_LENGTH,
            )?,
            sha256: false,
        })
    }

    /// The same signer, signing with HMAC-SHA256 as a Twilio webhook rule with a shared key
    /// does: the signed string is unchanged, and [`sign_form`](Self::sign_form) and
    /// [`sign_json`](Self::sign_json) add
    /// `X-Twilio-Webhooks-Signature-Settings: algorithm=HMAC_SHA256`.
    #[must_use]
    pub fn sha256(mut self) -> Self {
        self.sha256 = true;
        self
    }

    /// The MAC of what `feed` writes, under the algorithm this signer uses.
    fn tag(&self, feed: impl Fn(&mut dyn FnMut(&[u8]))) -> Vec<u8> {
        use hmac::Mac as _;
        let tag = if self.sha256 {
            self.keys_sha256
                .sign_fed(|mac| feed(&mut |bytes| mac.update(bytes)))
        } else {
            self.keys
                .sign_fed(|mac| feed(&mut |bytes| mac.update(bytes)))
        };
        tag.unwrap_or_default()
    }

    /// The headers for `signature`: the signature, and the settings header under SHA-256.
    fn headers(&self, signature: &str) -> Result<http::HeaderMap, crate::error::VerifyError> {
        let mut headers = http::HeaderMap::new();
        crate::sample::insert(&mut headers, &SIGNATURE, signature)?;
        if self.sha256 {
            crate::sample::insert(&mut headers, &SETTINGS, "algorithm=HMAC_SHA256")?;
        }
        Ok(headers)
    }

    /// The `X-Twilio-Signature` value for a form `body` posted to `url` (the whole URL Twilio
    /// requests, query included).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MalformedHeader`] when the body has more form parameters than allowed.
    pub fn form_signature(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<String, crate::error::VerifyError> {
        // Checked once apart, so that the signing below cannot fail.
        feed_form(body, &mut |_: &[u8]| {})?;
        let tag = self.tag(|write| {
            write(url.as_bytes());
            // Refused above if it could be.
            let _ = feed_form(body, write);
        });
        Ok(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            tag,
        ))
    }

    /// `X-Twilio-Signature` for a form `body` posted to `url`.
    ///
    /// # Errors
    ///
    /// As [`form_signature`](Self::form_signature).
    pub fn sign_form(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<http::HeaderMap, crate::error::VerifyError> {
        self.headers(&self.form_signature(url, body)?)
    }

    /// For a JSON `body` posted to `url`: the URL Twilio requests (with `bodySHA256` added to
    /// its query) and the `X-Twilio-Signature` header.
    ///
    /// # Errors
    ///
    /// Never in practice (base64 is always a valid header value).
    pub fn sign_json(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<(String, http::HeaderMap), crate::error::VerifyError> {
        use sha2::Digest as _;
        let hash = const_hex::encode(sha2::Sha256::digest(body));
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}bodySHA256={hash}");
        let tag = self.tag(|write| write(url.as_bytes()));
        Ok((
            url,
            self.headers(&base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                tag,
            ))?,
        ))
    }
}

crate::sample::redacted_debug!(TwilioSigner);

fn build(args: BuildArgs<'_>, options: VerifyOptions) -> Result<Verifier, VerifyError> {
    configured(
        TwilioVerifier::with_min(args.bytes(), args.require_url()?, args.min_raw()),
        options,
    )
}

/// Twilio's requests carry no event type: only a fallback route takes them.
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    let _ = event;
    None
}

/// An incoming SMS, as a form.
fn sample_body(id: &str, _event: &str) -> String {
    format!(
        "AccountSid=AC00000000000000000000000000000000&MessageSid={id}&From=%2B14155550100&To=%2B14155550199&Body=Hello+from+verihook"
    )
}

/// A form is signed with its parameters; a JSON body through the URL it is posted to.
fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let signer = TwilioSigner::new(request.secret)?;
    let url = request.url.ok_or(crate::providers::SignError::NeedsUrl)?;
    if request.body.trim_ascii_start().starts_with(b"{") {
        let (signed_url, headers) = signer.sign_json(url, request.body)?;
        let mut signed = crate::providers::SignedHeaders::new(headers);
        signed.notes.push(format!(
            "a JSON body is signed through the URL: post it to {signed_url}"
        ));
        Ok(signed)
    } else {
        Ok(crate::providers::SignedHeaders::new(
            signer.sign_form(url, request.body)?,
        ))
    }
}

/// Each member of the payload as a form parameter, posted to [`TEST_URL`](crate::sample::TEST_URL).
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let target = format!("{}/twilio", crate::sample::TEST_URL);
    let body = crate::sample::form_body(&sample.payload).into_bytes();
    let headers = TwilioSigner::new(sample.secret)?.sign_form(&target, &body)?;
    let mut request = crate::providers::SampleRequest::new(body, headers);
    request.url = Some(target);
    Ok(request)
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: "twilio",
    aliases: &[],
    signs_url: true,
    headers: &["x-twilio-signature"],
    build,
    route_key,
    ordering: |_| None,
    sample: crate::providers::Sample {
        event_type: "invoice.paid",
        header_event: "ping",
        id_note: None,
        spelled: &["X-Twilio-Signature", "X-Twilio-Webhooks-Signature-Settings"],
        forms: true,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_bytes() {
        let decoded: Vec<u8> = Decoded::new(b"a+b%2Bc%zz%4").collect();
        assert_eq!(decoded, b"a b+c%zz%4");
    }

    #[test]
    fn sorts_and_skips_repeated_pairs() {
        struct Collect(Vec<u8>);
        impl Sink for Collect {
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
        }
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
        let mut scratch = Scratch::new();
        let params = Params::parse(body, scratch.for_body(body)).unwrap();
        let mut out = Collect(Vec::new());
        params.feed(&mut out);
        assert_eq!(out.0, b"Digits1234Digits5678SidCA123SidAccountAC123");
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let body = "a=1&".repeat(MAX_PARAMS + 1);
        let mut scratch = Scratch::new();
        assert!(Params::parse(body.as_bytes(), scratch.for_body(body.as_bytes())).is_err());
    }
}
