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
mod providers;
mod receiver;
mod secret;
pub mod testing;
mod verify;

pub use error::{PayloadError, SecretError, VerifyError};
pub use event::{Event, Provider, Signed, UnknownProvider};
pub use providers::github::GithubVerifier;
pub use providers::standard::StandardVerifier;
pub use providers::stripe::StripeVerifier;
pub use receiver::{
    Delivery, HandlerError, Outcome, Receiver, ReceiverBuilder, DEFAULT_BODY_LIMIT, DEFAULT_LEASE,
    DEFAULT_RETAIN,
};
pub use secret::Secret;
pub use verify::{Clock, FixedClock, SystemClock, Verifier, VerifyOptions, DEFAULT_TOLERANCE};
