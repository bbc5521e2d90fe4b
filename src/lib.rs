#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(any(feature = "axum", feature = "actix"))]
mod adapters;
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use adapters::actix;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use adapters::axum;
pub mod dangerous;
mod error;
mod event;
pub mod idempotency;
mod receiver;
mod request;
pub mod scheme;
mod secret;
pub mod testing;
mod verify;

pub use error::{PayloadError, SecretError, VerifyError};
pub use event::{Event, EventBuilder, Field, Handshake, Signed, Verified, MAX_KEY_LEN};
pub use receiver::{
    ConfigError, Delivery, HandlerError, Outcome, Receiver, ReceiverBuilder, DEFAULT_LEASE,
    DEFAULT_RETAIN, MAX_SENDER_NAME,
};
pub use request::{RequestHead, WebhookRequest};
#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
pub use scheme::discord::DiscordVerifier;
pub use scheme::github::GithubVerifier;
pub use scheme::slack::SlackVerifier;
pub use scheme::square::SquareVerifier;
pub use scheme::standard::StandardVerifier;
pub use scheme::stripe::StripeVerifier;
pub use scheme::twilio::TwilioVerifier;
pub use scheme::{Scheme, DEFAULT_BODY_LIMIT};
pub use secret::Secret;
pub use verify::{Clock, FixedClock, SystemClock, VerifyOptions, DEFAULT_TOLERANCE};
