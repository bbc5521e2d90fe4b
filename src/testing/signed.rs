//! A whole signed request for a typed event, in one expression, for the app's handler tests.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use serde_json::{json, Map, Value};

use super::{
    GithubSigner, GitlabSigner, LinearSigner, PaddleSigner, ShopifySigner, SlackSigner,
    SquareSigner, StandardSigner, StripeSigner, TwilioSigner, ZoomSigner,
};
use crate::error::{SecretError, VerifyError};
use crate::event::Verified;
use crate::idempotency::ClaimToken;
use crate::request::{RequestHead, WebhookRequest};
use crate::scheme::{IntoVerifier, Verifier};
use crate::verify::VerifyOptions;

/// A request signed now as a provider would send it, with the verifier (built from the same
/// secret) that accepts it: give it to [`EventRouter::handle`](crate::EventRouter::handle) to run a route
/// without HTTP, or send [`into_http`](Self::into_http) to a receiver or an app.
pub struct SignedRequest {
    pub(crate) sender: Arc<String>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) request: http::Request<Bytes>,
}

impl SignedRequest {
    /// A request the app already has (a provider's published example, a captured delivery)
    /// and the verifier that accepts it, from the sender named `sender`.
    pub fn new(sender: &str, scheme: impl IntoVerifier, request: http::Request<Bytes>) -> Self {
        Self {
            sender: Arc::new(sender.to_owned()),
            verifier: Arc::new(scheme.into_verifier()),
            request,
        }
    }

    /// [`new`](Self::new) with a verifier built from configuration (by
    /// [`Builtin::build`](crate::scheme::Builtin::build)).
    pub fn from_boxed(
        sender: &str,
        scheme: impl IntoVerifier,
        request: http::Request<Bytes>,
    ) -> Self {
        Self::new(sender, scheme, request)
    }

    /// Names the sender the request comes from (default: the scheme's name), for routes
    /// registered with [`EventRouter::route_for`](crate::EventRouter::route_for).
    #[must_use]
    pub fn as_sender(mut self, name: &str) -> Self {
        self.sender = Arc::new(name.to_owned());
        self
    }

    /// The sender's name.
    #[must_use]
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// The request.
    #[must_use]
    pub fn request(&self) -> &http::Request<Bytes> {
        &self.request
    }

    /// The headers, signature included.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// The body, exactly as signed.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        self.request.body()
    }

    /// The verifier that accepts this request.
    #[must_use]
    pub fn scheme(&self) -> &Verifier {
        &self.verifier
    }

    /// Verifies the request with its verifier.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] (only once the request's freshness window has passed).
    pub fn verify(&self) -> Result<Verified, VerifyError> {
        let head = RequestHead::new(
            self.request.method(),
            self.request.uri(),
            self.request.headers(),
        );
        self.verifier
            .verify_request(&WebhookRequest::new(head, self.request.body()))
    }

    /// The request as an `http::Request`, for [`Receiver::handle_http`](crate::Receiver::handle_http)
    /// or an app's router.
    #[must_use]
    pub fn into_http(self) -> http::Request<Bytes> {
        self.request
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("sender", &self.sender)
            .field("verifier", &self.verifier)
            .field("uri", self.request.uri())
            .field("body_len", &self.request.body().len())
            .finish_non_exhaustive()
    }
}

/// The URL schemes that sign it (Twilio, Square) are signed for.
pub const TEST_URL: &str = "https://example.com/webhooks";

/// A request for one event of type `event_type` with `payload` as its data, from the built-in
/// sender `scheme` (`stripe`, `github`, `standard-webhooks`, ...), wrapped in that provider's
/// envelope and signed now with `secret`, as the provider sends it:
///
/// | `scheme` | `event_type` | `payload` becomes |
/// |---|---|---|
/// | `stripe` | `type` | `data.object` of an event with a fresh `evt_` id |
/// | `standard-webhooks` | `type` | `data`, with a fresh `msg_` id |
/// | `github` | `pull_request.opened`: `X-GitHub-Event` and `action` | the body |
/// | `slack` | the inner `event.type` | `event` of an `event_callback` |
/// | `twilio` | ignored | form parameters (each member), URL [`TEST_URL`] |
/// | `discord` | `application_command.<name>`, `message_component`, `modal_submit` (interactions) or a webhook event type | `data` (the secret seeds the key pair) |
/// | `square` | `type` | `data.object`, URL [`TEST_URL`] |
/// | `shopify` | `X-Shopify-Topic` | the body |
/// | `gitlab` | `merge_request.open`: `object_kind` and `object_attributes.action` | the body |
/// | `paddle` | `event_type` | `data` |
/// | `linear` | `Issue.create`: `type` and `action` | `data` |
/// | `zoom` | `event` | `payload` |
///
/// ```
/// let request = verihook::testing::signed_event(
///     "github", "a webhook secret", "pull_request.opened", serde_json::json!({ "number": 7 }),
/// ).unwrap();
/// assert_eq!(request.headers()["x-github-event"], "pull_request");
/// assert!(request.verify().is_ok());
/// ```
///
/// # Errors
///
/// [`VerifyError::BadSecret`] for an unknown scheme, a secret the scheme refuses, or `discord`
/// without the `ed25519` feature; [`VerifyError::MalformedHeader`] when the event type cannot
/// be a header value.
pub fn signed_event(
    scheme: &str,
    secret: &str,
    event_type: &str,
    payload: Value,
) -> Result<SignedRequest, VerifyError> {
    let builtin =
        crate::scheme::builtin(scheme).ok_or(VerifyError::BadSecret(SecretError::WrongKind {
            reason: "signed_event knows the built-in schemes only",
        }))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, millis) = (now.as_secs(), u64::try_from(now.as_millis()).unwrap_or(0));
    let unique = ClaimToken::generate();
    let unique = unique.as_str();
    let uuid = super::uuid_text(unique);
    let (kind, action) = match event_type.split_once('.') {
        Some((kind, action)) => (kind, Some(action)),
        None => (event_type, None),
    };
    let mut url = None;
    let mut key = secret.to_owned();
    let mut form = false;
    let (body, mut headers): (Vec<u8>, HeaderMap) = match builtin.name {
        "stripe" => {
            let body = to_vec(&json!({
                "id": format!("evt_test_{unique}"),
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": secs,
                "livemode": false,
                "pending_webhooks": 1,
                "request": { "id": null, "idempotency_key": null },
                "type": event_type,
                "data": { "object": payload },
            }));
            let headers = StripeSigner::new(secret)?.sign(secs, &body);
            (body, headers)
        }
        "standard-webhooks" => {
            let body = to_vec(&json!({
                "type": event_type,
                "timestamp": rfc3339(secs),
                "data": payload,
            }));
            let headers =
                StandardSigner::new(secret)?.sign(&format!("msg_{unique}"), secs, &body)?;
            (body, headers)
        }
        "github" => {
            let body = to_vec(&with_member(payload, "action", action.map(Value::from)));
            let headers = GithubSigner::new(secret)?.sign_delivery(&uuid, kind, &body)?;
            (body, headers)
        }
        "slack" => {
            let event = with_member(payload, "type", Some(Value::from(event_type)));
            let body = to_vec(&json!({
                "token": "verihook-test",
                "team_id": "T0VERIHOOK",
                "api_app_id": "A0VERIHOOK",
                "type": "event_callback",
                "event_id": format!("Ev{}", &unique[..16]),
                "event_time": secs,
                "event": event,
            }));
            let headers = SlackSigner::new(secret)?.sign(secs, &body);
            (body, headers)
        }
        "twilio" => {
            let target = format!("{TEST_URL}/twilio");
            let body = form_body(&payload).into_bytes();
            let headers = TwilioSigner::new(secret)?.sign_form(&target, &body)?;
            url = Some(target);
            form = true;
            (body, headers)
        }
        "discord" => discord(secret, &mut key, kind, action, payload, secs, unique)?,
        "square" => {
            let target = format!("{TEST_URL}/square");
            let body = to_vec(&json!({
                "merchant_id": "MVERIHOOK",
                "type": event_type,
                "event_id": uuid,
                "created_at": rfc3339(secs),
                "data": { "type": kind, "id": unique, "object": payload },
            }));
            let headers = SquareSigner::new(secret)?.sign(&target, &body)?;
            url = Some(target);
            (body, headers)
        }
        "shopify" => {
            let body = to_vec(&payload);
            let headers = ShopifySigner::new(secret)?.sign(
                event_type,
                "verihook-test.myshopify.com",
                &body,
            )?;
            (body, headers)
        }
        "gitlab" => {
            let mut body = with_member(payload, "object_kind", Some(Value::from(kind)));
            if let (Some(action), Value::Object(members)) = (action, &mut body) {
                let attributes = members
                    .entry("object_attributes")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(attributes) = attributes {
                    attributes.insert("action".into(), Value::from(action));
                }
            }
            let body = to_vec(&body);
            let header = gitlab_event_header(kind);
            let headers = GitlabSigner::new(secret)?.sign(&header, &uuid, &body)?;
            (body, headers)
        }
        "paddle" => {
            let body = to_vec(&json!({
                "event_id": format!("evt_{unique}"),
                "event_type": event_type,
                "occurred_at": rfc3339(secs),
                "notification_id": format!("ntf_{unique}"),
                "data": payload,
            }));
            let headers = PaddleSigner::new(secret)?.sign(secs, &body);
            (body, headers)
        }
        "linear" => {
            let body = to_vec(&json!({
                "action": action.unwrap_or("create"),
                "type": kind,
                "createdAt": rfc3339(secs),
                "data": payload,
                "url": "https://linear.app/verihook-test",
                "organizationId": uuid,
                "webhookTimestamp": millis,
                "webhookId": uuid,
            }));
            let headers = LinearSigner::new(secret)?.sign(kind, &uuid, &body)?;
            (body, headers)
        }
        "zoom" => {
            let body =
                to_vec(&json!({ "event": event_type, "event_ts": millis, "payload": payload }));
            let headers = ZoomSigner::new(secret)?.sign(secs, &body);
            (body, headers)
        }
        _ => {
            return Err(VerifyError::BadSecret(SecretError::WrongKind {
                reason: "signed_event does not know how this scheme wraps its events",
            }))
        }
    };
    let content_type = if form {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let verifier = builtin.build(&[key.as_str()], url.as_deref(), VerifyOptions::default())?;
    let target = url.unwrap_or_else(|| format!("/webhooks/{}", builtin.name));
    let mut request = http::Request::new(Bytes::from(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = target.parse().map_err(|_| VerifyError::UrlMismatch)?;
    *request.headers_mut() = headers;
    Ok(SignedRequest {
        sender: Arc::new(builtin.name.to_owned()),
        verifier: Arc::new(verifier),
        request,
    })
}

#[cfg(feature = "ed25519")]
fn discord(
    secret: &str,
    key: &mut String,
    kind: &str,
    action: Option<&str>,
    payload: Value,
    secs: u64,
    unique: &str,
) -> Result<(Vec<u8>, HeaderMap), VerifyError> {
    use sha2::Digest as _;
    let signer = super::DiscordSigner::from_seed(sha2::Sha256::digest(secret.as_bytes()).into());
    *key = signer.public_key();
    let interaction = match kind {
        "application_command" => Some(2),
        "message_component" => Some(3),
        "application_command_autocomplete" => Some(4),
        "modal_submit" => Some(5),
        _ => None,
    };
    let digits: String = unique
        .bytes()
        .take(18)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let body = match interaction {
        Some(number) => {
            let data = with_member(payload, "name", action.map(Value::from));
            json!({
                "id": digits,
                "application_id": "1000000000000000001",
                "type": number,
                "token": format!("interaction-token-{unique}"),
                "version": 1,
                "data": data,
            })
        }
        None => {
            let event_type = match action {
                Some(action) => [kind, ".", action].concat(),
                None => kind.to_owned(),
            };
            json!({
            "version": 1,
            "application_id": "1000000000000000001",
            "type": 1,
            "event": {
                "type": event_type,
                "timestamp": rfc3339(secs),
                "data": payload,
            },
            })
        }
    };
    let body = to_vec(&body);
    let headers = signer.sign(secs, &body);
    Ok((body, headers))
}

#[cfg(not(feature = "ed25519"))]
fn discord(
    _: &str,
    _: &mut String,
    _: &str,
    _: Option<&str>,
    _: Value,
    _: u64,
    _: &str,
) -> Result<(Vec<u8>, HeaderMap), VerifyError> {
    Err(VerifyError::BadSecret(SecretError::FeatureDisabled {
        feature: "ed25519",
    }))
}

fn to_vec(value: &Value) -> Vec<u8> {
    // A `Value` always serialises.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `value` with `name` set to `member` when given and not already there (an object only).
fn with_member(mut value: Value, name: &str, member: Option<Value>) -> Value {
    if let (Value::Object(members), Some(member)) = (&mut value, member) {
        members.entry(name).or_insert(member);
    }
    value
}

/// Each top-level member of `payload` as a form parameter (strings as they are, other values
/// as JSON text).
fn form_body(payload: &Value) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(members) = payload {
        for (name, value) in members {
            match value {
                Value::String(text) => form.append_pair(name, text),
                other => form.append_pair(name, &other.to_string()),
            };
        }
    }
    form.finish()
}

/// GitLab's `X-Gitlab-Event` for an `object_kind`: `merge_request` → `Merge Request Hook`.
fn gitlab_event_header(kind: &str) -> String {
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

/// `unix` seconds as RFC 3339 UTC (`2026-11-30T12:00:00Z`).
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let rest = unix % 86_400;
    // Days since 1970-01-01 to a civil date (proleptic Gregorian), after Howard Hinnant.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_504_000), "2025-11-30T12:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn names_gitlab_hooks() {
        assert_eq!(gitlab_event_header("merge_request"), "Merge Request Hook");
        assert_eq!(gitlab_event_header("push"), "Push Hook");
    }

    #[test]
    fn every_builtin_signs_an_event_its_verifier_accepts() {
        for builtin in crate::scheme::BUILTINS {
            if cfg!(not(feature = "ed25519")) && builtin.name == "discord" {
                continue;
            }
            let secret = match builtin.name {
                "standard-webhooks" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                _ => "a-long-enough-test-secret-0123456789",
            };
            let request = signed_event(
                builtin.name,
                secret,
                "thing.happened",
                json!({ "id": "t1" }),
            )
            .unwrap();
            assert!(request.verify().is_ok(), "{}", builtin.name);
            let tampered = SignedRequest {
                sender: request.sender.clone(),
                verifier: request.verifier.clone(),
                request: {
                    let mut copy = http::Request::new(Bytes::from_static(b"{\"id\":\"t2\"}"));
                    *copy.method_mut() = Method::POST;
                    *copy.uri_mut() = request.request.uri().clone();
                    *copy.headers_mut() = request.request.headers().clone();
                    copy
                },
            };
            // GitLab's secret token signs nothing: only the others see the change.
            if builtin.name != "gitlab" {
                assert!(tampered.verify().is_err(), "{}", builtin.name);
            }
        }
    }
}
