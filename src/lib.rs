//! Receive webhooks safely: verify the sender's signature over the raw body in constant time,
//! reject stale and replayed requests, accept several secrets during rotation, and run the
//! app's handler once per event, with de-duplication in memory, Redis or PostgreSQL.
//!
//! * **Verify one request:** a verifier per scheme ([`GithubVerifier`], [`StripeVerifier`],
//!   [`StandardVerifier`], [`SlackVerifier`], [`TwilioVerifier`], [`SquareVerifier`],
//!   [`ShopifyVerifier`], [`GitlabVerifier`] (a shared token: it signs nothing),
//!   [`PaddleVerifier`], [`LinearVerifier`], [`ZoomVerifier`], and
//!   `DiscordVerifier` with the `ed25519` feature), or your own [`Scheme`]; each hands back an
//!   [`Event`] or a [`VerifyError`] with a stable code and HTTP status.
//! * **Exactly once:** a [`Receiver`] verifies, claims the event in an
//!   [`idempotency`] store, runs the handler, and gives an [`Outcome`] with the status to answer.
//! * **Typed events:** an [`EventRouter`] runs one handler per event type, with the payload
//!   deserialised into the app's own type inside the sender's [`envelope`]; unknown types are
//!   acknowledged, payloads that do not fit answered `422` (or buried in the inbox).
//! * **Acknowledge fast, process later:** `verihook::inbox` (feature `inbox`) stores each
//!   verified event durably (PostgreSQL, Redis) and answers at once; its `Worker`s run the
//!   handler with retries, backoff and dead letters.
//! * **Frameworks:** `verihook::axum` and `verihook::actix` (features `axum`, `actix`) check the
//!   head before reading the body and answer each outcome.
//! * **Operations:** [`diagnose`] says why a signature did not match; `verihook::guard`
//!   (feature `guards`) keeps unwanted sources out before the body is read; the `metrics` and
//!   `tracing` features report every request.
//! * **Tests:** [`testing`] signs requests the way each provider does, and builds a signed typed
//!   event in one expression for [`EventRouter::handle`].
//!
//! ```
//! use verihook::{testing::GithubSigner, GithubVerifier, Receiver};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let receiver = Receiver::builder()
//!     .sender("github", GithubVerifier::new("a long webhook secret")?)
//!     .handler(|delivery| async move {
//!         println!("{:?} {}", delivery.event_type(), delivery.key());
//!         Ok(())
//!     })
//!     .build()?;
//!
//! let body = br#"{"zen":"Design for failure."}"#;
//! let headers = GithubSigner::new("a long webhook secret")?.sign_delivery("d-1", "ping", body)?;
//! let first = receiver.handle(&headers, body.as_slice().into()).await;
//! let again = receiver.handle(&headers, body.as_slice().into()).await;
//! assert_eq!((first.code(), again.code()), ("processed", "duplicate"));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! The [`guide`] has a chapter per task: routing, stores, the inbox, frameworks, schemes,
//! diagnosis, guards, metrics and tracing, security notes and every error code.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

/// The README's Rust blocks, compiled and run as doctests (with every feature they use on).
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "actix",
    feature = "redis",
    feature = "postgres",
    feature = "inbox",
    feature = "guards",
    feature = "metrics"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The `bytes` crate verihook takes bodies as ([`bytes::Bytes`]), so an app needs no version
/// of its own to match.
pub use bytes;
/// The `http` crate verihook takes headers and requests as ([`http::HeaderMap`]), so an app
/// needs no version of its own to match.
pub use http;

#[cfg(any(feature = "axum", feature = "actix"))]
mod adapters;
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use adapters::actix;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use adapters::axum;
pub mod dangerous;
pub mod diagnose;
pub mod envelope;
mod error;
mod event;
pub mod guide;
#[cfg(feature = "guards")]
#[cfg_attr(docsrs, doc(cfg(feature = "guards")))]
pub mod guard;
mod handler;
pub mod idempotency;
#[cfg(feature = "inbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
pub mod inbox;
mod observe;
pub mod providers;
mod receiver;
mod request;
pub mod router;
mod sample;
pub mod scheme;
mod secret;
pub mod testing;
mod verify;
mod wire;

pub use error::{ConfigError, PayloadError, SecretError, VerifyError, MAX_SENDER_NAME};
pub use event::{Event, EventBuilder, Field, Handshake, Signed, Verified, MAX_KEY_LEN};
pub use handler::{Delivery, HandlerError, DEFAULT_LEASE, DEFAULT_RETAIN};
#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use providers::discord::DiscordVerifier;
pub use providers::github::GithubVerifier;
pub use providers::gitlab::GitlabVerifier;
pub use providers::linear::{LinearVerifier, LINEAR_TOLERANCE};
pub use providers::paddle::{PaddleVerifier, PADDLE_TOLERANCE};
pub use providers::shopify::ShopifyVerifier;
pub use providers::slack::SlackVerifier;
pub use providers::square::SquareVerifier;
pub use providers::standard::StandardVerifier;
pub use providers::stripe::StripeVerifier;
pub use providers::twilio::TwilioVerifier;
pub use providers::zoom::ZoomVerifier;
pub use receiver::{Outcome, Receiver, ReceiverBuilder};
pub use request::{RequestHead, WebhookRequest};
pub use router::{EventRouter, State, UnroutedPolicy};
pub use scheme::cloudevents;
pub use scheme::{Scheme, DEFAULT_BODY_LIMIT};
pub use secret::Secret;
pub use verify::{Clock, FixedClock, SystemClock, VerifyOptions, DEFAULT_TOLERANCE};
