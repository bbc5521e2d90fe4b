//! Captured webhooks kept as fixtures: a body and its headers, signed with a test secret, and
//! signed again when replayed so that the timestamp is fresh.

use std::fmt;
use std::path::Path;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::providers::{self, SignError, SignRequest};

/// A captured request saved for tests: who sent it, where, and what, with the test secret it
/// is signed with. Its `Debug` never shows the secret.
///
/// `verihook console` saves a captured request as a fixture (the body with chosen JSON fields
/// redacted, signed with a test secret); `verihook send --fixture FILE` posts it again, and a
/// test replays it through the app's receiver:
///
/// ```
/// use verihook::providers::stripe::StripeVerifier;
/// use verihook::scheme::FixedClock;
/// use verihook::testing::Fixture;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let fixture = Fixture::from_json(r#"{
///   "sender": "stripe", "path": "/webhooks/stripe", "id": "evt_1", "event": "invoice.paid",
///   "secret": "whsec_test_fixture_secret", "signed_at": 1700000000,
///   "headers": [["content-type", "application/json"]],
///   "body": "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}"
/// }"#)?;
/// let request = fixture.signed_at(1_800_000_000, None)?;
/// let verifier = StripeVerifier::new(fixture.secret())?.with_clock(FixedClock::at_unix(1_800_000_000));
/// let event = verifier.verify(&request.headers, request.body.clone())?;
/// assert_eq!(event.event_type().as_deref(), Some("invoice.paid"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Fixture {
    /// The built-in sender, by its name or an alias (`svix`).
    pub sender: String,
    /// The path it was posted to (`/webhooks/stripe`).
    pub path: String,
    /// The delivery id, for senders that send it in a header.
    pub id: String,
    /// The event, for senders that name it in a header (GitHub's `X-GitHub-Event`).
    pub event: String,
    /// The test secret the fixture is signed with (never a real one).
    secret: TestSecret,
    /// When it was signed, Unix seconds.
    pub signed_at: u64,
    /// The request's other headers (content type, the sender's unsigned headers), as
    /// `[name, value]`; the signature headers are made again on every replay.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as signed.
    pub body: String,
}

/// A fixture's test secret: written to the file, never to `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct TestSecret(String);

impl fmt::Debug for TestSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A fixture's request, signed: the headers to send with the body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FixtureRequest {
    /// The path to post it to.
    pub path: String,
    /// Every header: the fixture's own, then the signature headers made now.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why a fixture cannot be read or signed.
#[derive(Debug)]
#[non_exhaustive]
pub enum FixtureError {
    /// The file cannot be read.
    Read(std::io::Error),
    /// The text is not a fixture.
    Format(Box<dyn std::error::Error + Send + Sync>),
    /// No built-in sender has the fixture's sender name.
    UnknownSender,
    /// The body is not text (a fixture keeps its body as UTF-8).
    BinaryBody,
    /// A header of the fixture cannot be sent.
    BadHeader,
    /// The sender cannot sign it.
    Sign(SignError),
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read(_) => "cannot read the fixture",
            Self::Format(_) => "not a fixture",
            Self::UnknownSender => "the fixture's sender is not a built-in sender",
            Self::BinaryBody => "the body is not UTF-8 text",
            Self::BadHeader => "a header of the fixture cannot be sent",
            Self::Sign(_) => "cannot sign the fixture",
        })?;
        // The cause, when there is one, says which file error or which field.
        match std::error::Error::source(self) {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for FixtureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read(err) => Some(err),
            Self::Format(err) => Some(&**err),
            Self::Sign(err) => Some(err),
            _ => None,
        }
    }
}

impl Fixture {
    /// A fixture of `body` from the built-in `sender`, posted to `path`, signed at
    /// `signed_at` with the test `secret`; `headers` are the request's other headers worth
    /// keeping (never a signature or a credential).
    ///
    /// # Errors
    ///
    /// [`FixtureError::UnknownSender`], [`FixtureError::BinaryBody`], or
    /// [`FixtureError::Sign`] when the sender cannot sign with `secret`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sender: &str,
        path: &str,
        id: &str,
        event: &str,
        secret: &str,
        signed_at: u64,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<Self, FixtureError> {
        let body = std::str::from_utf8(body).map_err(|_| FixtureError::BinaryBody)?;
        let fixture = Self {
            sender: sender.to_owned(),
            path: path.to_owned(),
            id: id.to_owned(),
            event: event.to_owned(),
            secret: TestSecret(secret.to_owned()),
            signed_at,
            headers,
            body: body.to_owned(),
        };
        fixture.signed_at(signed_at, None)?;
        Ok(fixture)
    }

    /// Reads a fixture from its JSON text.
    ///
    /// # Errors
    ///
    /// [`FixtureError::Format`] when the text is not a fixture.
    pub fn from_json(text: &str) -> Result<Self, FixtureError> {
        serde_json::from_str(text).map_err(|e| FixtureError::Format(Box::new(e)))
    }

    /// Reads a fixture file.
    ///
    /// # Errors
    ///
    /// [`FixtureError::Read`] or [`FixtureError::Format`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(FixtureError::Read)?;
        Self::from_json(&text)
    }

    /// The fixture as pretty-printed JSON, as [`load`](Self::load) reads it.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The test secret the fixture is signed with: what the receiver under test verifies with.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret.0
    }

    /// The request signed at `timestamp` (Unix seconds), for `url` when the sender signs the
    /// URL (default: [`TEST_URL`](crate::testing::TEST_URL) with the fixture's path).
    ///
    /// # Errors
    ///
    /// [`FixtureError::UnknownSender`], [`FixtureError::BadHeader`], or
    /// [`FixtureError::Sign`].
    pub fn signed_at(
        &self,
        timestamp: u64,
        url: Option<&str>,
    ) -> Result<FixtureRequest, FixtureError> {
        let provider = providers::find(&self.sender).ok_or(FixtureError::UnknownSender)?;
        let default_url;
        let url = match url {
            Some(url) => url,
            None => {
                let base = crate::sample::TEST_URL.trim_end_matches("/webhooks");
                default_url = format!("{base}{}", self.path);
                &default_url
            }
        };
        let signed = provider
            .sign(&SignRequest {
                named: &self.sender,
                secret: &self.secret.0,
                url: Some(url),
                id: &self.id,
                event: &self.event,
                timestamp,
                body: self.body.as_bytes(),
            })
            .map_err(FixtureError::Sign)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| FixtureError::BadHeader)?;
            let value = HeaderValue::from_str(value).map_err(|_| FixtureError::BadHeader)?;
            headers.insert(name, value);
        }
        for (name, value) in &signed.headers {
            headers.insert(name.clone(), value.clone());
        }
        Ok(FixtureRequest {
            path: self.path.clone(),
            headers,
            body: Bytes::from(self.body.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_survives_its_json_and_hides_its_secret() {
        let fixture = Fixture::new(
            "github",
            "/hooks",
            "d-1",
            "push",
            "fixture-test-secret",
            1_700_000_000,
            vec![("content-type".to_owned(), "application/json".to_owned())],
            br#"{"zen":"x"}"#,
        )
        .unwrap();
        let again = Fixture::from_json(&fixture.to_json()).unwrap();
        assert_eq!(again, fixture);
        assert!(!format!("{fixture:?}").contains("fixture-test-secret"));
        let request = fixture.signed_at(1_700_000_100, None).unwrap();
        assert_eq!(request.headers["x-github-event"], "push");
        assert!(request.headers.contains_key("x-hub-signature-256"));
        assert!(matches!(
            Fixture::from_json("{}"),
            Err(FixtureError::Format(_))
        ));
        assert!(matches!(
            Fixture::new("nobody", "/", "", "", "s", 0, Vec::new(), b"{}"),
            Err(FixtureError::UnknownSender)
        ));
    }
}
