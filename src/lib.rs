#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

pub mod dangerous;
mod error;
mod event;
mod providers;
mod secret;
pub mod testing;
mod verify;

pub use error::{PayloadError, SecretError, VerifyError};
pub use event::{Event, Provider, Signed, UnknownProvider};
pub use providers::github::GithubVerifier;
pub use providers::standard::StandardVerifier;
pub use providers::stripe::StripeVerifier;
pub use secret::Secret;
pub use verify::{Clock, FixedClock, SystemClock, Verifier, VerifyOptions, DEFAULT_TOLERANCE};
