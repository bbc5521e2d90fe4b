//! Why a signature did not match: the usual mistakes, each checked by redoing the verification
//! with the mistake undone.
//!
//! A rejection says `bad_signature` and nothing more, on purpose: an attacker learns nothing
//! from it. The operator who holds the secrets needs more, and the causes are always the same
//! few: the body was re-serialised or had a newline added on the way, the secret was pasted with
//! a newline or without its `whsec_` prefix, the clock is off, the public URL behind a proxy is
//! not the one the sender signed, the request went to another sender's route. An [`Explainer`]
//! holds the secrets as text and tries a fixed, small set of candidates, one mistake at a time;
//! each [`Finding`] is a candidate that really verifies, and says what to change.
//!
//! No finding ever carries a secret or a computed signature, and none says a guess "almost"
//! matched: a candidate verifies exactly or is not reported.
//!
//! A diagnosis costs up to about fifty verifications and four JSON re-layouts of the body: run
//! it on demand (a request you logged, the CLI, `verihook listen`), not on every rejection a
//! production endpoint answers, where anyone's forged requests would make you pay for it.
//!
//! ```
//! use std::time::SystemTime;
//! use verihook::diagnose::{Cause, Explainer};
//! use verihook::{providers, testing::GithubSigner, RequestHead, scheme::VerifyOptions, WebhookRequest};
//!
//! let secret = "It's a Secret to Everybody";
//! let headers = GithubSigner::new(secret)?.sign(b"{\"zen\":\"Keep it logically awesome.\"}");
//! // The framework parsed the JSON and handed over a pretty-printed copy.
//! let received = bytes::Bytes::from("{\n  \"zen\": \"Keep it logically awesome.\"\n}");
//!
//! // The secret was pasted into an environment file with its newline.
//! let configured = format!("{secret}\n");
//! let explainer = Explainer::provider(providers::find("github").unwrap(), &[&configured], None, VerifyOptions::default());
//! let request = WebhookRequest::new(RequestHead::post(&headers), &received);
//! let findings = explainer.diagnose(&request, SystemTime::now());
//! // Each mistake is found alone only when the other is absent: here both are made at once,
//! // and the explainer tries one fix at a time, so it reports nothing it has not verified,
//! // only the conclusion that the secret differs from the one that signed.
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].cause, Cause::SecretDiffers);
//!
//! let explainer = Explainer::provider(providers::find("github").unwrap(), &[secret], None, VerifyOptions::default());
//! let findings = explainer.diagnose(&request, SystemTime::now());
//! assert_eq!(findings[0].cause, Cause::BodyReserialized { pretty: false });
//! assert!(findings[0].advice.contains("raw bytes"));
//! # Ok::<(), verihook::VerifyError>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use zeroize::Zeroizing;

use crate::error::VerifyError;
use crate::event::Verified;
use crate::providers::Provider;
use crate::request::WebhookRequest;
use crate::scheme::declared::SchemeSpec;
use crate::scheme::verifier::Verifier;
use crate::verify::VerifyOptions;

/// At most this many configured secrets (and as many other senders) are tried; the work stays
/// a fixed small number of verifications whatever the configuration.
const MAX_SECRETS: usize = 8;

/// At most this many variants of the configured public URL are tried.
const MAX_URLS: usize = 12;

/// Builds a scheme from secrets as text and an optional public URL.
type Build = Box<dyn Fn(&[&str], Option<&str>) -> Option<Verifier> + Send + Sync>;

/// Builds a scheme as a receiver would: the secrets' rules as strict as the receiver's.
type Strict = Box<dyn Fn(&[&str], Option<&str>) -> Result<Verifier, VerifyError> + Send + Sync>;

/// One likely cause of a rejection, found by verifying with the mistake undone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What went wrong.
    pub cause: Cause,
    /// What to change, in a sentence.
    pub advice: String,
}

/// The mistakes an [`Explainer`] checks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The sender signed the body with a trailing newline that the body received lacks.
    BodyLostTrailingNewline,
    /// The body received ends with a newline the sender did not sign.
    BodyGainedTrailingNewline,
    /// The sender signed LF line endings; the body received has CRLF.
    BodyGainedCrlf,
    /// The sender signed CRLF line endings; the body received has LF.
    BodyLostCrlf,
    /// The sender signed the JSON in another layout: compact (`pretty: false`) or
    /// pretty-printed with 2 spaces (`pretty: true`), keys in the same order.
    BodyReserialized {
        /// Whether the signed layout was the pretty one.
        pretty: bool,
    },
    /// The sender signed the JSON in another common layout ([`JsonLayout`]), keys in the same
    /// order. Its [`code`](Cause::code) is `body_reserialized`, as for
    /// [`BodyReserialized`](Cause::BodyReserialized).
    BodyReserializedAs {
        /// The layout the sender signed.
        layout: JsonLayout,
    },
    /// A configured secret matches once surrounding white space or quotes are removed.
    SecretUntrimmed {
        /// Which configured secret, counting from 1.
        index: usize,
    },
    /// A configured secret matches once the `whsec_` prefix is added.
    SecretMissingPrefix {
        /// Which configured secret, counting from 1.
        index: usize,
    },
    /// A configured secret matches once its `whsec_` prefix is removed.
    SecretExtraPrefix {
        /// Which configured secret, counting from 1.
        index: usize,
    },
    /// A configured secret is base64 of the real one (as Kubernetes stores secrets).
    SecretBase64Encoded {
        /// Which configured secret, counting from 1.
        index: usize,
    },
    /// The request verifies with another configured sender's secret.
    OtherSendersSecret {
        /// That sender's name.
        sender: String,
    },
    /// The sender signed another public URL (another scheme, host or port).
    UrlDiffers {
        /// The URL that verifies.
        signed: String,
    },
    /// The signed timestamp is outside the tolerance.
    ClockSkew {
        /// How far the timestamp is from this machine's clock, in seconds.
        seconds: u64,
        /// Whether the timestamp is ahead of this machine's clock (else behind).
        ahead: bool,
        /// Whether the request verifies at its own time (else other findings, if any, say
        /// what else is wrong).
        otherwise_valid: bool,
    },
    /// The request carries another built-in scheme's signature headers.
    OtherSchemesHeaders {
        /// That scheme's name.
        scheme: &'static str,
    },
    /// The conclusion when the signature does not match and no checked mistake explains it:
    /// the secret the request was signed with is not one configured (rotated, another
    /// endpoint's, test mode's against live mode's), or the request was not signed by the
    /// sender at all.
    SecretDiffers,
}

/// A JSON layout a sender may sign, besides compact and 2-space pretty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonLayout {
    /// Python's `json.dumps` default: `", "` between items and `": "` after keys, on one line.
    Spaced,
    /// Pretty-printed with 4 spaces (`json.dumps(indent=4)`, `JSON.stringify(v, null, 4)`).
    Indent4,
}

impl Cause {
    /// A stable snake_case code for the cause.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyLostTrailingNewline => "body_lost_trailing_newline",
            Self::BodyGainedTrailingNewline => "body_gained_trailing_newline",
            Self::BodyGainedCrlf => "body_gained_crlf",
            Self::BodyLostCrlf => "body_lost_crlf",
            Self::BodyReserialized { .. } | Self::BodyReserializedAs { .. } => "body_reserialized",
            Self::SecretUntrimmed { .. } => "secret_untrimmed",
            Self::SecretMissingPrefix { .. } => "secret_missing_prefix",
            Self::SecretExtraPrefix { .. } => "secret_extra_prefix",
            Self::SecretBase64Encoded { .. } => "secret_base64_encoded",
            Self::OtherSendersSecret { .. } => "other_senders_secret",
            Self::UrlDiffers { .. } => "url_differs",
            Self::ClockSkew { .. } => "clock_skew",
            Self::OtherSchemesHeaders { .. } => "other_schemes_headers",
            Self::SecretDiffers => "secret_differs",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cause.code(), self.advice)
    }
}

/// Finds why a request was rejected, given the sender's secrets as text.
///
/// Built for one sender ([`provider`](Self::provider) or [`declared`](Self::declared)), with the
/// other senders an app has ([`other_sender`](Self::other_sender)); see the
/// [module docs](self).
pub struct Explainer {
    name: String,
    build: Build,
    strict: Strict,
    secrets: Vec<Zeroizing<String>>,
    url: Option<String>,
    others: Vec<(String, Vec<Zeroizing<String>>)>,
}

impl fmt::Debug for Explainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Explainer")
            .field("sender", &self.name)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("url", &self.url)
            .field(
                "others",
                &self.others.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Explainer {
    /// Explains rejections by the provider's scheme, keyed by `secrets` exactly as
    /// configured (short ones included: a diagnosis never accepts a request; but
    /// [`verify`](Self::verify) applies the receiver's rules).
    #[must_use]
    pub fn provider(
        provider: &'static Provider,
        secrets: &[&str],
        url: Option<&str>,
        options: VerifyOptions,
    ) -> Self {
        let strict_options = options.clone();
        Self::new(
            provider.name,
            secrets,
            url,
            Box::new(move |secrets, url| {
                provider.build_short_ok(secrets, url, options.clone()).ok()
            }),
            Box::new(move |secrets, url| provider.build(secrets, url, strict_options.clone())),
        )
    }

    /// Renamed [`provider`](Self::provider).
    #[deprecated(note = "use Explainer::provider")]
    #[doc(hidden)]
    #[must_use]
    pub fn builtin(
        builtin: &'static Provider,
        secrets: &[&str],
        url: Option<&str>,
        options: VerifyOptions,
    ) -> Self {
        Self::provider(builtin, secrets, url, options)
    }

    /// Explains rejections by a declared scheme, keyed by `secrets` exactly as configured
    /// (short ones included for the diagnosis; [`verify`](Self::verify) applies the
    /// specification's own rules).
    #[must_use]
    pub fn declared(
        spec: &SchemeSpec,
        secrets: &[&str],
        url: Option<&str>,
        options: VerifyOptions,
    ) -> Self {
        let strict = spec.clone();
        let strict_options = options.clone();
        let mut lenient = spec.clone();
        lenient.dangerous.short_secrets = true;
        lenient.secret.min_len = 1;
        Self::new(
            &spec.name,
            secrets,
            url,
            Box::new(move |secrets, url| {
                let scheme = lenient.build(secrets, url).ok()?;
                Some(scheme.with_options(options.clone()).boxed())
            }),
            Box::new(move |secrets, url| match strict.build(secrets, url) {
                Ok(scheme) => Ok(scheme.with_options(strict_options.clone()).boxed()),
                Err(_) => Err(VerifyError::BadSecret(
                    crate::error::SecretError::WrongKind {
                        reason: "the declared scheme cannot be built with the configured secrets \
                             (empty, shorter than its secret.min_len, or not in its encoding)",
                    },
                )),
            }),
        )
    }

    fn new(name: &str, secrets: &[&str], url: Option<&str>, build: Build, strict: Strict) -> Self {
        Self {
            name: name.to_owned(),
            build,
            strict,
            secrets: secrets
                .iter()
                .take(MAX_SECRETS)
                .map(|s| Zeroizing::new((*s).to_owned()))
                .collect(),
            url: url.map(str::to_owned),
            others: Vec::new(),
        }
    }

    /// Also tries another sender's secrets (as text) on a rejected request: a request that
    /// verifies with them was sent to the wrong route, or the secrets were swapped.
    #[must_use]
    pub fn other_sender(mut self, name: impl Into<String>, secrets: &[&str]) -> Self {
        if self.others.len() < MAX_SECRETS {
            let secrets = secrets
                .iter()
                .take(MAX_SECRETS)
                .map(|s| Zeroizing::new((*s).to_owned()))
                .collect();
            self.others.push((name.into(), secrets));
        }
        self
    }

    /// The sender's name (the scheme's, or the declared spec's).
    #[must_use]
    pub fn sender(&self) -> &str {
        &self.name
    }

    /// Verifies `request` as of `now` with the configured secrets, under the same rules as a
    /// receiver: a secret the receiver would refuse (too short, say) is refused here too.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] the sender's scheme answers; [`VerifyError::BadSecret`] when the
    /// configured secrets cannot key the scheme as a receiver would.
    pub fn verify(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let scheme = (self.strict)(&texts(&self.secrets), self.url.as_deref())?;
        scheme.verify_at(request, now)
    }

    /// [`verify`](Self::verify), also accepting secrets shorter than the scheme's minimum
    /// (reached through `dangerous::verify_with_short_secrets`).
    pub(crate) fn verify_lenient(
        &self,
        request: &WebhookRequest<'_>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let scheme = (self.build)(&texts(&self.secrets), self.url.as_deref()).ok_or(
            VerifyError::BadSecret(crate::error::SecretError::WrongKind {
                reason: "no configured secret can key this scheme",
            }),
        )?;
        scheme.verify_at(request, now)
    }

    /// The likely causes of `request`'s rejection as of `now`; empty when it verifies. Each
    /// finding is a candidate that verifies, except the conclusion [`Cause::SecretDiffers`],
    /// given when the signature does not match and no checked mistake explains it.
    #[must_use]
    pub fn diagnose(&self, request: &WebhookRequest<'_>, now: SystemTime) -> Vec<Finding> {
        let mut findings = Vec::new();
        let secrets = texts(&self.secrets);
        // Built once: the check of the headers and every body variant use it.
        let configured = (self.build)(&secrets, self.url.as_deref());
        if let Some(found) = crate::providers::detect(request.headers()) {
            let ours = configured
                .as_ref()
                .is_some_and(|scheme| scheme.recognizes(request.headers()));
            if !found.name.eq_ignore_ascii_case(&self.name) && !ours {
                findings.push(Finding {
                    cause: Cause::OtherSchemesHeaders { scheme: found.name },
                    advice: format!(
                        "the request carries {}'s signature headers, not {}'s: it was sent to \
                         the wrong route, or the sender is configured with the wrong scheme",
                        found.name, self.name
                    ),
                });
            }
        }
        let Some(configured) = configured else {
            // No configured secret keys the scheme (one pasted with its quotes, say): the
            // secret candidates are each built on their own.
            self.secret_findings(&secrets, request, now, &mut findings);
            return findings;
        };
        let mut at = now;
        let mut mismatch = false;
        match configured.verify_at(request, now) {
            Ok(_) => return Vec::new(),
            Err(VerifyError::SignatureMismatch { .. }) => mismatch = true,
            Err(VerifyError::TimestampTooOld { age, .. }) => {
                at = now.checked_sub(age).unwrap_or(now);
                let finding = skew(&configured, request, at, age, false);
                mismatch = matches!(
                    configured.verify_at(request, at),
                    Err(VerifyError::SignatureMismatch { .. })
                );
                findings.push(finding);
            }
            Err(VerifyError::TimestampInFuture { ahead, .. }) => {
                at = now.checked_add(ahead).unwrap_or(now);
                let finding = skew(&configured, request, at, ahead, true);
                mismatch = matches!(
                    configured.verify_at(request, at),
                    Err(VerifyError::SignatureMismatch { .. })
                );
                findings.push(finding);
            }
            Err(_) => {}
        }
        if findings.iter().any(|f| {
            matches!(
                f.cause,
                Cause::ClockSkew {
                    otherwise_valid: true,
                    ..
                }
            )
        }) {
            return findings;
        }
        self.body_findings(&configured, request, at, &mut findings);
        self.secret_findings(&secrets, request, at, &mut findings);
        self.url_findings(&secrets, request, at, &mut findings);
        for (name, secrets) in &self.others {
            if self.verifies_with(&texts(secrets), self.url.as_deref(), request, at) {
                findings.push(Finding {
                    cause: Cause::OtherSendersSecret {
                        sender: name.clone(),
                    },
                    advice: format!(
                        "the request verifies with sender `{name}`'s secret: it was sent to \
                         `{}`'s route, or the two senders' secrets are swapped",
                        self.name
                    ),
                });
            }
        }
        let explained = findings.iter().any(|f| {
            !matches!(
                f.cause,
                Cause::ClockSkew { .. } | Cause::OtherSchemesHeaders { .. }
            )
        });
        if mismatch && !explained {
            findings.push(Finding {
                cause: Cause::SecretDiffers,
                advice: format!(
                    "no checked mistake (body changed on the way, secret pasted with white \
                     space, quotes, a prefix or base64, another URL{}) explains the mismatch: \
                     the request was signed with a secret that is not configured for `{}` \
                     (rotated since, another endpoint's, test mode's instead of live mode's), \
                     or not by the sender at all; copy the secret again from the sender's \
                     settings for this endpoint",
                    if self.others.is_empty() {
                        ""
                    } else {
                        ", another sender's secret"
                    },
                    self.name
                ),
            });
        }
        findings
    }

    fn verifies_with(
        &self,
        secrets: &[&str],
        url: Option<&str>,
        request: &WebhookRequest<'_>,
        at: SystemTime,
    ) -> bool {
        (self.build)(secrets, url).is_some_and(|scheme| passes(&scheme, request, at))
    }

    fn body_findings(
        &self,
        scheme: &Verifier,
        request: &WebhookRequest<'_>,
        at: SystemTime,
        findings: &mut Vec<Finding>,
    ) {
        let body = request.body();
        let passes_with = |candidate: Bytes| {
            candidate != body
                && passes(scheme, &WebhookRequest::new(request.head(), &candidate), at)
        };
        let crlf = memchr::memmem::find(body, b"\r\n").is_some();
        // From the smallest change up, each variant made only if the ones before did not verify:
        // a re-serialisation also undoes a newline, but the newline is the cause.
        let cause = if body
            .strip_suffix(b"\r\n")
            .or_else(|| body.strip_suffix(b"\n"))
            .is_some_and(|trimmed| passes_with(Bytes::copy_from_slice(trimmed)))
        {
            Some(Cause::BodyGainedTrailingNewline)
        } else if passes_with(Bytes::from([body.as_ref(), b"\n"].concat())) {
            Some(Cause::BodyLostTrailingNewline)
        } else if crlf && passes_with(Bytes::from(replace(body, b"\r\n", b"\n"))) {
            Some(Cause::BodyGainedCrlf)
        } else if !crlf
            && body.contains(&b'\n')
            && passes_with(Bytes::from(replace(body, b"\n", b"\r\n")))
        {
            Some(Cause::BodyLostCrlf)
        } else {
            [
                Cause::BodyReserialized { pretty: false },
                Cause::BodyReserialized { pretty: true },
                Cause::BodyReserializedAs {
                    layout: JsonLayout::Spaced,
                },
                Cause::BodyReserializedAs {
                    layout: JsonLayout::Indent4,
                },
            ]
            .into_iter()
            .find(|cause| relaid_json(body, cause).is_some_and(|l| passes_with(Bytes::from(l))))
        };
        if let Some(cause) = cause {
            findings.push(Finding {
                advice: body_advice(&cause),
                cause,
            });
        }
    }

    fn secret_findings(
        &self,
        secrets: &[&str],
        request: &WebhookRequest<'_>,
        at: SystemTime,
        findings: &mut Vec<Finding>,
    ) {
        for (i, secret) in secrets.iter().enumerate() {
            let index = i + 1;
            let mut candidates: Vec<(Cause, Zeroizing<String>, &str)> = Vec::new();
            let trimmed = secret.trim().trim_matches(|c| c == '"' || c == '\'').trim();
            if trimmed != *secret && !trimmed.is_empty() {
                candidates.push((
                    Cause::SecretUntrimmed { index },
                    Zeroizing::new(trimmed.to_owned()),
                    "has white space or quotes around it (a newline pasted into an environment \
                     file, or quotes kept by a .env loader): remove them",
                ));
            }
            if let Some(bare) = secret.strip_prefix("whsec_") {
                candidates.push((
                    Cause::SecretExtraPrefix { index },
                    Zeroizing::new(bare.to_owned()),
                    "matches without its `whsec_` prefix: configure it without",
                ));
            } else {
                candidates.push((
                    Cause::SecretMissingPrefix { index },
                    Zeroizing::new(format!("whsec_{secret}")),
                    "lost its `whsec_` prefix: configure the secret exactly as the dashboard \
                     shows it, prefix included",
                ));
            }
            if let Some(decoded) = base64_text(secret) {
                candidates.push((
                    Cause::SecretBase64Encoded { index },
                    decoded,
                    "is base64 of the real secret (Kubernetes and some vaults store secrets \
                     encoded): configure the decoded value",
                ));
            }
            for (cause, candidate, what) in candidates {
                let mut varied: Vec<&str> = secrets.to_vec();
                varied[i] = candidate.as_str();
                if self.verifies_with(&varied, self.url.as_deref(), request, at) {
                    findings.push(Finding {
                        cause,
                        advice: format!("configured secret {index} of {} {what}", secrets.len()),
                    });
                }
            }
        }
    }

    fn url_findings(
        &self,
        secrets: &[&str],
        request: &WebhookRequest<'_>,
        at: SystemTime,
        findings: &mut Vec<Finding>,
    ) {
        let Some(url) = self.url.as_deref() else {
            return;
        };
        for candidate in url_variants(url, request.headers()) {
            if self.verifies_with(secrets, Some(&candidate), request, at) {
                findings.push(Finding {
                    advice: format!(
                        "the sender signed the URL `{candidate}`, not the configured `{url}`: \
                         configure the public URL exactly as the sender's dashboard has it \
                         (behind a proxy, the URL the app sees is not the one signed)"
                    ),
                    cause: Cause::UrlDiffers { signed: candidate },
                });
                return;
            }
        }
    }
}

/// What to change for a body finding.
fn body_advice(cause: &Cause) -> String {
    let raw = "verify the raw bytes as received, before any parsing or decoding";
    match cause {
        Cause::BodyGainedTrailingNewline => format!(
            "the body ends with a newline the sender did not sign (added by a proxy, an editor \
             or `echo` when the request was captured): {raw}; capture with \
             `curl --data-binary @file` or `printf`"
        ),
        Cause::BodyLostTrailingNewline => {
            format!("the sender signed a trailing newline the body lost on the way: {raw}")
        }
        Cause::BodyGainedCrlf => {
            format!("the sender signed LF line endings; the body has CRLF: {raw}")
        }
        Cause::BodyLostCrlf => {
            format!("the sender signed CRLF line endings; the body has LF: {raw}")
        }
        Cause::BodyReserialized { .. } | Cause::BodyReserializedAs { .. } => {
            let layout = match cause {
                Cause::BodyReserialized { pretty: true } => "pretty-printed (2 spaces)",
                Cause::BodyReserializedAs {
                    layout: JsonLayout::Spaced,
                } => "spaced (`, ` and `: `, Python's json.dumps default)",
                Cause::BodyReserializedAs {
                    layout: JsonLayout::Indent4,
                } => "pretty-printed (4 spaces)",
                _ => "compact",
            };
            format!(
                "the sender signed {layout} JSON and the body was re-serialised (a framework \
                 parsed it and wrote it again): {raw} (in Axum take `Bytes`, not `Json<T>`)"
            )
        }
        _ => String::new(),
    }
}

/// The secrets as the builder takes them.
fn texts(secrets: &[Zeroizing<String>]) -> Vec<&str> {
    secrets.iter().map(|s| s.as_str()).collect()
}

/// Whether `scheme` accepts `request` at `at` (an event or a handshake).
fn passes(scheme: &Verifier, request: &WebhookRequest<'_>, at: SystemTime) -> bool {
    scheme.verify_at(request, at).is_ok()
}

/// The clock-skew finding: always reported (the gap is a fact), saying whether the request
/// verifies at its own time.
fn skew(
    scheme: &Verifier,
    request: &WebhookRequest<'_>,
    at: SystemTime,
    gap: Duration,
    ahead: bool,
) -> Finding {
    let otherwise_valid = passes(scheme, request, at);
    let seconds = gap.as_secs();
    let way = if ahead { "ahead of" } else { "behind" };
    let verdict = if otherwise_valid {
        "and the signature is otherwise valid"
    } else {
        "and the signature does not match at that time either (see the other findings)"
    };
    let advice = if ahead {
        "this machine's clock is behind (check NTP), or the sender's is ahead"
    } else {
        "a replay or a delayed delivery, or this machine's clock is ahead (check NTP); \
         `verihook verify --now <unix>` checks a captured request at its own time"
    };
    Finding {
        cause: Cause::ClockSkew {
            seconds,
            ahead,
            otherwise_valid,
        },
        advice: format!(
            "the signed timestamp is {seconds} s {way} this machine's clock {verdict}: {advice}"
        ),
    }
}

/// `body` with every `from` replaced by `to`.
fn replace(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    let mut rest = body;
    while let Some(at) = memchr::memmem::find(rest, from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `body` written again in the layout `cause` names (compact, 2- or 4-space pretty, or
/// spaced), members in their order; `None` when it is not JSON.
fn relaid_json(body: &[u8], cause: &Cause) -> Option<Vec<u8>> {
    use serde_json::ser::{CompactFormatter, PrettyFormatter, Serializer};
    let mut reader = serde_json::Deserializer::from_slice(body);
    let mut out = Vec::with_capacity(body.len() + body.len() / 4);
    match cause {
        Cause::BodyReserialized { pretty: true } => {
            let mut writer = Serializer::with_formatter(&mut out, PrettyFormatter::new());
            serde_transcode::transcode(&mut reader, &mut writer).ok()?;
        }
        Cause::BodyReserializedAs {
            layout: JsonLayout::Indent4,
        } => {
            let formatter = PrettyFormatter::with_indent(b"    ");
            let mut writer = Serializer::with_formatter(&mut out, formatter);
            serde_transcode::transcode(&mut reader, &mut writer).ok()?;
        }
        Cause::BodyReserializedAs {
            layout: JsonLayout::Spaced,
        } => {
            let mut writer = Serializer::with_formatter(&mut out, SpacedFormatter);
            serde_transcode::transcode(&mut reader, &mut writer).ok()?;
        }
        _ => {
            let mut writer = Serializer::with_formatter(&mut out, CompactFormatter);
            serde_transcode::transcode(&mut reader, &mut writer).ok()?;
        }
    }
    reader.end().ok()?;
    Some(out)
}

/// JSON on one line with `", "` between items and `": "` after keys (Python's default).
struct SpacedFormatter;

/// `", "` before every item but the first.
fn spaced_separator<W: ?Sized + std::io::Write>(
    writer: &mut W,
    first: bool,
) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for SpacedFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        spaced_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        spaced_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// The text `secret` decodes to as base64, when it is base64 of printable text.
fn base64_text(secret: &str) -> Option<Zeroizing<String>> {
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ];
    let decoded = engines
        .iter()
        .find_map(|engine| engine.decode(secret.trim()).ok())
        .map(Zeroizing::new)?;
    let text = std::str::from_utf8(&decoded).ok()?;
    let printable = !text.is_empty() && text.chars().all(|c| !c.is_control());
    printable.then(|| Zeroizing::new(text.to_owned()))
}

/// Other forms of `url` a sender may have signed: the other scheme, the port written, left
/// out or the default, and the host the request names (`Host`, `X-Forwarded-Host`).
fn url_variants(url: &str, headers: &http::HeaderMap) -> Vec<String> {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return Vec::new();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Vec::new();
    };
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut authorities = vec![authority.as_str().to_owned()];
    for name in ["x-forwarded-host", "host"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let value = value.split(',').next().unwrap_or(value).trim();
        if value.parse::<http::uri::Authority>().is_ok()
            && !authorities.iter().any(|a| a.eq_ignore_ascii_case(value))
        {
            authorities.push(value.to_owned());
        }
    }
    let mut out = Vec::new();
    for scheme in [scheme, if scheme == "https" { "http" } else { "https" }] {
        let default = if scheme == "https" { 443 } else { 80 };
        for authority in &authorities {
            let host = authority
                .parse::<http::uri::Authority>()
                .map_or_else(|_| authority.clone(), |a| a.host().to_owned());
            for candidate in [
                format!("{scheme}://{authority}{target}"),
                format!("{scheme}://{host}{target}"),
                format!("{scheme}://{host}:{default}{target}"),
            ] {
                if candidate != url && !out.contains(&candidate) && out.len() < MAX_URLS {
                    out.push(candidate);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaid_json_keeps_member_order() {
        let body = br#"{"z":1,"a":[true,null,"x"],"m":{}}"#;
        let pretty = relaid_json(body, &Cause::BodyReserialized { pretty: true }).unwrap();
        assert_eq!(
            String::from_utf8(pretty.clone()).unwrap(),
            "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null,\n    \"x\"\n  ],\n  \"m\": {}\n}"
        );
        let compact = Cause::BodyReserialized { pretty: false };
        assert_eq!(relaid_json(&pretty, &compact).unwrap(), body.to_vec());
        let spaced = Cause::BodyReserializedAs {
            layout: JsonLayout::Spaced,
        };
        assert_eq!(
            String::from_utf8(relaid_json(body, &spaced).unwrap()).unwrap(),
            r#"{"z": 1, "a": [true, null, "x"], "m": {}}"#
        );
        assert!(relaid_json(b"{\"a\":1} trailing", &compact).is_none());
        assert!(relaid_json(b"\xff\xfe", &spaced).is_none());
    }

    #[test]
    fn url_variants_are_bounded_and_distinct() {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("internal:8080"));
        headers.insert("x-forwarded-port", http::HeaderValue::from_static("443"));
        headers.insert(
            "x-forwarded-host",
            http::HeaderValue::from_static("public.example.com"),
        );
        let variants = url_variants("http://example.com:8080/sms?x=1", &headers);
        assert!(variants.len() <= MAX_URLS);
        assert!(variants.contains(&"http://example.com/sms?x=1".to_owned()));
        assert!(variants.contains(&"http://public.example.com/sms?x=1".to_owned()));
        assert!(variants.contains(&"http://internal:8080/sms?x=1".to_owned()));
        assert!(!variants.contains(&"http://example.com:8080/sms?x=1".to_owned()));
        assert!(url_variants("not a url", &headers).is_empty());
    }

    #[test]
    fn base64_text_needs_printable_text() {
        assert_eq!(
            base64_text("c2VjcmV0LXZhbHVl")
                .as_deref()
                .map(String::as_str),
            Some("secret-value")
        );
        assert!(base64_text("not base64!").is_none());
        assert!(base64_text("AAECAw==").is_none());
    }
}
