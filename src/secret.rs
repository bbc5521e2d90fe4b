//! Signing secrets: zeroised on drop, never printed, never compared.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::SecretError;

/// A webhook signing secret, as raw key bytes.
///
/// Never printed (its `Debug` is `Secret([redacted])`), never compared, and wiped from memory on
/// drop. Most apps never build one directly: each verifier's `new` takes the secret as the
/// provider issues it. Use `Secret` when the key material comes in another encoding.
///
/// ```
/// use verihook::{providers::github::GithubVerifier, Secret};
/// let secret = Secret::from_hex("4974277320612053656372657420746f2045766572796f6e65")?;
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// let verifier = GithubVerifier::from_secrets([secret])?;
/// # Ok::<(), verihook::VerifyError>(())
/// ```
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Uses `bytes` as the key, exactly as given.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when `bytes` is empty.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(bytes))
    }

    /// Decodes standard base64 (padded), after removing an optional `whsec_` prefix.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when nothing is left to decode, [`SecretError::Encoding`] when it
    /// is not base64.
    pub fn from_base64(encoded: &str) -> Result<Self, SecretError> {
        let encoded = encoded.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        match decode_base64(encoded)? {
            bytes if bytes.is_empty() => Err(SecretError::Empty),
            bytes => Ok(Self(bytes)),
        }
    }

    /// Decodes hexadecimal (either case).
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] when `encoded` is empty, [`SecretError::Encoding`] when it is not
    /// hexadecimal.
    pub fn from_hex(encoded: &str) -> Result<Self, SecretError> {
        let bytes = const_hex::decode(encoded.trim())
            .map_err(|_| SecretError::Encoding { expected: "hex" })?;
        Self::from_bytes(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

pub(crate) fn decode_base64(encoded: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    if encoded.is_empty() {
        return Err(SecretError::Empty);
    }
    STANDARD
        .decode(encoded)
        .map(Zeroizing::new)
        .map_err(|_| SecretError::Encoding { expected: "base64" })
}

pub(crate) fn require_len(key: &[u8], min: usize) -> Result<(), SecretError> {
    match key.len() {
        0 => Err(SecretError::Empty),
        len if len < min => Err(SecretError::TooShort { len, min }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::from_bytes("hunter2-hunter2").unwrap();
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn base64_strips_prefix() {
        let a = Secret::from_base64("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = Secret::from_base64("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 24);
    }

    #[test]
    fn rejects_empty_and_undecodable() {
        assert_eq!(Secret::from_bytes("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Secret::from_base64("whsec_").unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            Secret::from_base64("not base64!").unwrap_err(),
            SecretError::Encoding { expected: "base64" }
        );
        assert_eq!(
            Secret::from_hex("zz").unwrap_err(),
            SecretError::Encoding { expected: "hex" }
        );
    }

    #[test]
    fn error_messages_never_repeat_the_material() {
        let err = Secret::from_base64("whsec_s3cr3t-value!").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"));
    }
}
