//! Receive webhooks safely: verify the sender's signature over the raw body in constant time,
//! reject stale and replayed requests, accept several secrets during rotation, and run the
//! app's handler once per event, with de-duplication in memory, Redis or PostgreSQL.
//!
//! * **Verify one request:** a [`Verifier`] per provider, under [`providers`]
//!   (`providers::github::GithubVerifier`, `providers::stripe::StripeVerifier`,
//!   `providers::standard::StandardVerifier`, Slack, Twilio, Square, Shopify, GitLab (a shared
//!   token: it signs nothing), Paddle, Linear, Zoom, and Discord with the `discord` feature), or
//!   your own [`Scheme`]; each hands back an [`Event`] or a [`VerifyError`] with a stable code
//!   and HTTP status.
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
//!   (feature `guard`) keeps unwanted sources out before the body is read; the `metrics` and
//!   `tracing` features report every request.
//! * **Tests:** `verihook::testing` (feature `testing`, for dev-dependencies) signs requests the
//!   way each provider does, and builds a signed typed event in one expression for
//!   [`EventRouter::handle`].
//!
//! ```
//! use verihook::providers::github::{GithubSigner, GithubVerifier};
//! use verihook::Receiver;
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
//! # Words
//!
//! * **scheme** — how a sender signs: which headers, which bytes, which MAC. The [`Scheme`]
//!   trait; a [`Verifier`] adds the app's policy (clock, tolerance) to one.
//! * **provider** — a company's built-in scheme, one file each under [`providers`] (Stripe,
//!   GitHub, ...), with its verifier, signer, envelope and route key.
//! * **sender** — a named, configured source of webhooks in a [`Receiver`]
//!   (`.sender("billing", StripeVerifier::new(..)?)`): a name plus a verifier.
//! * **verifier** — a scheme with its policy, the value that checks one request.
//! * [`Event`] — what a successful verification hands back: the raw body and what the provider
//!   signed. A [`Delivery`] is one event handed to the app's handler.
//! * [`Outcome`] — what the receiver did with one request (processed, duplicate, rejected, ...)
//!   and the HTTP status to answer.
//! * `inbox::Attempt` and `inbox::Fate` (feature `inbox`) — one try of an inbox worker's handler
//!   at a stored event, and what became of it (done, retry later, dead letter, lost, unrouted).
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
    feature = "guard",
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
pub mod error;
pub mod event;
#[cfg(feature = "inbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
pub mod forward;
#[cfg(feature = "guard")]
#[cfg_attr(docsrs, doc(cfg(feature = "guard")))]
pub mod guard;
pub mod guide;
pub mod handler;
pub mod idempotency;
#[cfg(feature = "inbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "inbox")))]
pub mod inbox;
mod moved;
mod observe;
mod ordering;
pub mod providers;
pub mod receiver;
mod request;
pub mod router;
mod sample;
pub mod scheme;
mod secret;
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod verify;
mod wire;

pub use error::{ConfigError, VerifyError};
pub use event::Event;
pub use handler::{Delivery, HandlerError};
pub use receiver::{Outcome, Receiver};
pub use request::{RequestHead, WebhookRequest};
pub use router::EventRouter;
pub use scheme::{Scheme, Verifier};
pub use secret::Secret;

// The names the root exported before they moved to their modules, for one release.
#[doc(hidden)]
pub use moved::*;
