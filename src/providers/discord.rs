//! Discord interactions: `X-Signature-Ed25519` over `{X-Signature-Timestamp}{body}` with the
//! application's public key.

#[cfg(feature = "discord")]
pub use imp::{Discord, DiscordVerifier};
#[cfg(feature = "discord")]
pub(crate) use imp::{SIGNATURE, TIMESTAMP};

#[cfg(feature = "discord")]
mod imp {
    use std::fmt;

    use ed25519_dalek::{Signature, VerifyingKey};
    use http::{HeaderMap, HeaderName};

    use crate::error::{SecretError, VerifyError};
    use crate::event::{Event, Field, Handshake, Verified};
    use crate::request::{RequestHead, WebhookRequest};
    use crate::scheme::verifier::{Answers, Check, Scheme, SchemeInfo, Verifier};
    use crate::verify::{parse_unix_seconds, Header};
    use crate::wire::header::hex_array;

    pub(crate) static SIGNATURE: Header = Header::new("x-signature-ed25519", "X-Signature-Ed25519");
    pub(crate) static TIMESTAMP: Header =
        Header::new("x-signature-timestamp", "X-Signature-Timestamp");

    /// Verifies Discord interactions (feature `discord`): `X-Signature-Ed25519`, the ed25519
    /// signature of `{X-Signature-Timestamp}{body}` under the application's public key (64 hex
    /// digits, from the developer portal).
    ///
    /// The timestamp must be within the tolerance (default 5 minutes) in either direction,
    /// checked before the signature. A PING (`"type":1`) is answered by the scheme itself with
    /// `{"type":1}` once its signature passed: [`Verified::Handshake`]. The event id is the
    /// body's `id` (signed), the type its `type`.
    ///
    /// ```
    /// use verihook::{testing::DiscordSigner, providers::discord::DiscordVerifier, scheme::FixedClock, event::Verified};
    /// # fn main() -> Result<(), verihook::VerifyError> {
    /// let signer = DiscordSigner::from_seed([7; 32]);
    /// let body = br#"{"id":"1","type":1}"#;
    /// let headers = signer.sign(1_700_000_000, body);
    /// let verifier = DiscordVerifier::new(&signer.public_key())?
    ///     .with_clock(FixedClock::at_unix(1_700_000_000));
    /// let Verified::Handshake(pong) = verifier.verify(&headers, body.as_slice().into())? else { panic!() };
    /// assert_eq!(pong.body().as_ref(), br#"{"type":1}"#);
    /// # Ok(()) }
    /// ```
    pub type DiscordVerifier = Verifier<Discord>;

    /// Discord's scheme: the application's public keys. Its policy (clock, tolerance) is the
    /// [`DiscordVerifier`]'s.
    #[derive(Clone)]
    pub struct Discord {
        keys: Vec<VerifyingKey>,
    }

    static HEADERS: [HeaderName; 1] = [HeaderName::from_static("x-signature-ed25519")];
    static INFO: SchemeInfo = SchemeInfo::new("discord", &HEADERS);

    impl DiscordVerifier {
        /// A verifier for the application's public key, as hex.
        ///
        /// # Errors
        ///
        /// [`VerifyError::BadSecret`] when the key is not 64 hex digits or not a valid,
        /// non-weak ed25519 public key.
        pub fn new(public_key: &str) -> Result<Self, VerifyError> {
            Self::with_public_keys([public_key])
        }

        /// A verifier that accepts a signature from any of `public_keys`.
        ///
        /// # Errors
        ///
        /// As [`new`](Self::new), or when there are none.
        pub fn with_public_keys<I>(public_keys: I) -> Result<Self, VerifyError>
        where
            I: IntoIterator,
            I::Item: AsRef<str>,
        {
            let keys = public_keys
                .into_iter()
                .map(|key| parse_key(key.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                return Err(SecretError::Empty.into());
            }
            Ok(Verifier::for_scheme(Discord { keys }))
        }
    }

    impl Discord {
        fn parse<'a>(
            headers: &'a HeaderMap,
            at: &Check<'_>,
        ) -> Result<(&'a [u8], u64, Signature), VerifyError> {
            let [signature, timestamp] = Header::find_all(headers, [&SIGNATURE, &TIMESTAMP]);
            let signature = signature.ok_or_else(|| SIGNATURE.missing())?;
            let digits = timestamp.ok_or_else(|| TIMESTAMP.missing())?.as_bytes();
            let seconds = parse_unix_seconds(digits)
                .ok_or_else(|| TIMESTAMP.malformed("not a Unix time in seconds"))?;
            let signature: [u8; 64] = hex_array(signature.as_bytes())
                .ok_or_else(|| SIGNATURE.malformed("expected 128 hex digits"))?;
            at.fresh(seconds)?;
            Ok((digits, seconds, Signature::from_bytes(&signature)))
        }
    }

    fn parse_key(hex: &str) -> Result<VerifyingKey, SecretError> {
        let hex = hex.trim();
        if hex.is_empty() {
            return Err(SecretError::Empty);
        }
        let bytes: [u8; 32] = hex_array(hex.as_bytes()).ok_or(SecretError::WrongKind {
            reason: "a Discord public key is 64 hex digits",
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| SecretError::WrongKind {
            reason: "not a valid ed25519 public key",
        })?;
        if key.is_weak() {
            return Err(SecretError::WrongKind {
                reason: "a weak (small-order) ed25519 public key",
            });
        }
        Ok(key)
    }

    /// Whether the body's top-level `type` is the integer 1 (PING).
    fn is_ping(body: &[u8]) -> bool {
        memchr::memmem::find(body, b"\"type\"").is_some()
            && crate::event::body_integer(body, "type") == Some(1)
    }

    impl Answers for Discord {
        type Answer = Verified;
        fn answer(verified: Verified) -> Result<Verified, VerifyError> {
            Ok(verified)
        }
    }

    impl Scheme for Discord {
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
            let matched = self.keys.iter().any(|key| {
                key.verify_stream(&signature).is_ok_and(|mut stream| {
                    stream.update(digits);
                    stream.update(body);
                    stream.finalize_and_verify().is_ok()
                })
            });
            if !matched {
                return Err(VerifyError::SignatureMismatch {
                    secrets: self.keys.len(),
                    signatures: 1,
                });
            }
            if is_ping(body) {
                return Ok(Verified::Handshake(Handshake::json(&br#"{"type":1}"#[..])));
            }
            Ok(Verified::Event(
                Event::builder("discord", body.clone())
                    .id(Field::Body("id"), true)
                    .event_type(Field::Body("type"), true)
                    .timestamp(seconds)
                    .build(),
            ))
        }
    }

    impl fmt::Debug for Discord {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Discord")
                .field("public_keys", &self.keys.len())
                .finish()
        }
    }
}

// Everything else verihook knows about Discord: its signer (for tests and the CLI), its
// typed envelope, its route key, its samples and its registry entry.

/// Signs requests as Discord does, with a key pair of the test's own (only Discord holds the
/// real private key). Feature `ed25519`.
#[cfg(feature = "discord")]
#[derive(Clone)]
pub struct DiscordSigner {
    key: ed25519_dalek::SigningKey,
}

#[cfg(feature = "discord")]
impl DiscordSigner {
    /// A signer from a 32-byte seed.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The public key a `DiscordVerifier` takes: 64 hex digits.
    #[must_use]
    pub fn public_key(&self) -> String {
        const_hex::encode(self.key.verifying_key().as_bytes())
    }

    /// `X-Signature-Ed25519` and `X-Signature-Timestamp` for `body` sent at `timestamp`.
    #[must_use]
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> http::HeaderMap {
        use ed25519_dalek::Signer as _;
        let t = timestamp.to_string();
        let signature = self.key.sign(&[t.as_bytes(), body].concat());
        let mut headers = http::HeaderMap::new();
        let _ = crate::sample::insert(
            &mut headers,
            &SIGNATURE,
            &const_hex::encode(signature.to_bytes()),
        );
        let _ = crate::sample::insert(&mut headers, &TIMESTAMP, &t);
        headers
    }
}

#[cfg(feature = "discord")]
crate::sample::redacted_debug!(DiscordSigner);

/// A Discord interaction (slash command, component, modal), with `data` as `T`.
///
/// Discord expects the interaction's answer in the response body; the receiver answers `200`
/// with its own JSON, so answer interactions through Discord's follow-up API with
/// [`token`](Self::token) (valid 15 minutes), or verify them with a verifier and answer in your
/// own route.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscordInteraction<T> {
    /// `id` (signed).
    pub id: String,
    /// `application_id`.
    pub application_id: String,
    /// `type`: 2 application command, 3 message component, 4 autocomplete, 5 modal submit.
    pub kind: u8,
    /// `token`, for follow-up messages: a credential, redacted from `Debug`.
    pub token: String,
    /// `guild_id`, when sent from a server.
    pub guild_id: Option<String>,
    /// `channel_id`.
    pub channel_id: Option<String>,
    /// `data` (absent on PING).
    pub data: Option<T>,
}

#[derive(serde::Deserialize)]
struct InteractionWire<T> {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: u8,
    token: String,
    #[serde(default)]
    guild_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default = "Option::default")]
    data: Option<T>,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for DiscordInteraction<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: InteractionWire<T>, _| Self {
            id: w.id,
            application_id: w.application_id,
            kind: w.kind,
            token: w.token,
            guild_id: w.guild_id,
            channel_id: w.channel_id,
            data: w.data,
        })
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for DiscordInteraction<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordInteraction")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("kind", &self.kind)
            .field("token", &"[redacted]")
            .field("guild_id", &self.guild_id)
            .field("channel_id", &self.channel_id)
            .field("data", &self.data)
            .finish()
    }
}

/// A Discord webhook event (`"type": 1` with an `event`), with `event.data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscordEvent<T> {
    /// `application_id`.
    pub application_id: String,
    /// `event.type` (`APPLICATION_AUTHORIZED`).
    pub event_type: String,
    /// `event.timestamp` (ISO 8601).
    pub timestamp: String,
    /// `event.data`.
    pub data: T,
}

#[derive(serde::Deserialize)]
struct DiscordEventWire<T> {
    application_id: String,
    event: DiscordEventBody<T>,
}

#[derive(serde::Deserialize)]
struct DiscordEventBody<T> {
    #[serde(rename = "type")]
    event_type: String,
    timestamp: String,
    data: T,
}

impl<S, T: serde::de::DeserializeOwned> crate::router::FromRouted<S> for DiscordEvent<T> {
    fn from_routed(
        routed: &crate::router::Routed,
        _: &S,
    ) -> Result<Self, crate::handler::HandlerError> {
        crate::router::from_wire(routed, |w: DiscordEventWire<T>, _| Self {
            application_id: w.application_id,
            event_type: w.event.event_type,
            timestamp: w.event.timestamp,
            data: w.event.data,
        })
    }
}

#[cfg(feature = "discord")]
fn build(
    args: crate::providers::BuildArgs<'_>,
    options: crate::verify::VerifyOptions,
) -> Result<crate::scheme::verifier::Verifier, crate::error::VerifyError> {
    Ok(DiscordVerifier::with_public_keys(args.secrets)?
        .with_options(options)
        .boxed())
}

#[cfg(not(feature = "discord"))]
fn build(
    _: crate::providers::BuildArgs<'_>,
    _: crate::verify::VerifyOptions,
) -> Result<crate::scheme::verifier::Verifier, crate::error::VerifyError> {
    Err(crate::error::SecretError::FeatureDisabled { feature: "discord" }.into())
}

/// An interaction's kind (`application_command.<name>`, `message_component`, ...) or a
/// webhook event's `event.type` (`APPLICATION_AUTHORIZED`).
fn route_key(event: &crate::event::Event) -> Option<crate::event::RouteKey> {
    #[derive(serde::Deserialize)]
    struct Keys<'a> {
        #[serde(rename = "type")]
        kind: Option<u8>,
        #[serde(borrow)]
        event: Option<Inner<'a>>,
        #[serde(borrow)]
        data: Option<Named<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Inner<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        name: Option<std::borrow::Cow<'a, str>>,
    }
    use crate::event::RouteKey;
    let keys = serde_json::from_slice::<Keys<'_>>(&event.body[..]).ok()?;
    if let Some(inner) = keys.event.and_then(|e| e.kind) {
        return Some(RouteKey::new(&inner));
    }
    let name = keys.data.and_then(|d| d.name);
    match keys.kind? {
        2 => Some(RouteKey::with_action(
            "application_command",
            name.as_deref(),
        )),
        3 => Some(RouteKey::new("message_component")),
        4 => Some(RouteKey::with_action(
            "application_command_autocomplete",
            name.as_deref(),
        )),
        5 => Some(RouteKey::new("modal_submit")),
        other => Some(RouteKey::new(&other.to_string())),
    }
}

/// A slash command.
fn sample_body(id: &str, _event: &str) -> String {
    serde_json::json!({ "id": id, "type": 2 }).to_string()
}

fn sign_sample(
    request: &crate::providers::SignRequest<'_>,
) -> Result<crate::providers::SignedHeaders, crate::providers::SignError> {
    let _ = request;
    Err(crate::providers::SignError::Unsupported(
        "discord cannot be signed here: only Discord holds the private key \
         (verihook::testing::DiscordSigner signs with a test key pair)",
    ))
}

/// An interaction (`application_command.<name>`, `message_component`, `modal_submit`) with the
/// payload as `data`, or a webhook event of any other type; signed with a key pair seeded by
/// the secret, whose public key the verifier takes.
#[cfg(feature = "discord")]
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    use sha2::Digest as _;
    let signer = DiscordSigner::from_seed(sha2::Sha256::digest(sample.secret.as_bytes()).into());
    let interaction = match sample.kind {
        "application_command" => Some(2),
        "message_component" => Some(3),
        "application_command_autocomplete" => Some(4),
        "modal_submit" => Some(5),
        _ => None,
    };
    let digits: String = sample
        .unique
        .bytes()
        .take(18)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let body = match interaction {
        Some(number) => {
            let data = crate::sample::with_member(
                sample.payload.clone(),
                "name",
                sample.action.map(serde_json::Value::from),
            );
            serde_json::json!({
                "id": digits,
                "application_id": "1000000000000000001",
                "type": number,
                "token": format!("interaction-token-{}", sample.unique),
                "version": 1,
                "data": data,
            })
        }
        None => serde_json::json!({
            "version": 1,
            "application_id": "1000000000000000001",
            "type": 1,
            "event": {
                "type": sample.event_type,
                "timestamp": crate::sample::rfc3339(sample.secs),
                "data": sample.payload,
            },
        }),
    };
    let body = crate::sample::to_vec(&body);
    let headers = signer.sign(sample.secs, &body);
    let mut request = crate::providers::SampleRequest::new(body, headers);
    request.key = Some(signer.public_key());
    Ok(request)
}

#[cfg(not(feature = "discord"))]
fn sample_event(
    sample: &crate::providers::EventSample<'_>,
) -> Result<crate::providers::SampleRequest, crate::error::VerifyError> {
    let _ = sample;
    Err(crate::error::SecretError::FeatureDisabled { feature: "discord" }.into())
}

pub(crate) static PROVIDER: crate::providers::Provider = crate::providers::Provider {
    name: "discord",
    aliases: &[],
    signs_url: false,
    headers: &["x-signature-ed25519"],
    build,
    route_key,
    ordering: |_| None,
    sample: crate::providers::Sample {
        event_type: "invoice.paid",
        header_event: "ping",
        id_note: None,
        spelled: &["X-Signature-Ed25519", "X-Signature-Timestamp"],
        forms: false,
        body: sample_body,
        sign: sign_sample,
        event: sample_event,
    },
};
