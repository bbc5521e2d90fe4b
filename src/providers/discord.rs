//! Discord interactions: `X-Signature-Ed25519` over `{X-Signature-Timestamp}{body}` with the
//! application's public key.

#[cfg(feature = "ed25519")]
pub use imp::{Discord, DiscordVerifier};
#[cfg(feature = "ed25519")]
pub(crate) use imp::{SIGNATURE, TIMESTAMP};

use crate::scheme::Builtin;

pub(crate) static BUILTIN: Builtin = Builtin {
    name: "discord",
    aliases: &[],
    signs_url: false,
    headers: &["x-signature-ed25519"],
    #[cfg(feature = "ed25519")]
    build: |args, options| {
        Ok(DiscordVerifier::with_public_keys(args.secrets)?
            .with_options(options)
            .boxed())
    },
    #[cfg(not(feature = "ed25519"))]
    build: |_, _| Err(crate::SecretError::FeatureDisabled { feature: "ed25519" }.into()),
};

#[cfg(feature = "ed25519")]
mod imp {
    use std::fmt;

    use ed25519_dalek::{Signature, VerifyingKey};
    use http::{HeaderMap, HeaderName};

    use crate::error::{SecretError, VerifyError};
    use crate::event::{Event, Field, Handshake, Verified};
    use crate::request::{RequestHead, WebhookRequest};
    use crate::scheme::{hex_array, Answers, Check, Scheme, SchemeInfo, Verifier};
    use crate::verify::{parse_unix_seconds, Header};

    pub(crate) static SIGNATURE: Header = Header::new("x-signature-ed25519", "X-Signature-Ed25519");
    pub(crate) static TIMESTAMP: Header =
        Header::new("x-signature-timestamp", "X-Signature-Timestamp");

    /// Verifies Discord interactions (feature `ed25519`): `X-Signature-Ed25519`, the ed25519
    /// signature of `{X-Signature-Timestamp}{body}` under the application's public key (64 hex
    /// digits, from the developer portal).
    ///
    /// The timestamp must be within the tolerance (default 5 minutes) in either direction,
    /// checked before the signature. A PING (`"type":1`) is answered by the scheme itself with
    /// `{"type":1}` once its signature passed: [`Verified::Handshake`]. The event id is the
    /// body's `id` (signed), the type its `type`.
    ///
    /// ```
    /// use verihook::{testing::DiscordSigner, DiscordVerifier, FixedClock, Verified};
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
