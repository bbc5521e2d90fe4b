//! Signing schemes: the open [`Scheme`] trait, what a scheme declares about itself, and the one
//! [`Verifier`] that adds the app's policy.
//!
//! A scheme declares what it is once, as data ([`SchemeInfo`]), and writes two functions: a
//! cheap check of the head and the verification of the whole request (method, URL, headers,
//! raw body), which answers with a [`Verified`](crate::event::Verified) event or handshake. The policy — clock,
//! tolerance — lives apart, in one generic [`Verifier`]: `StripeVerifier` is
//! `Verifier<Stripe>`. Each built-in scheme is its provider's file in
//! [`providers`](crate::providers) plus one line in [`providers::ALL`](crate::providers::ALL). An app's own scheme is the same trait in its own crate: see the
//! [`Scheme`] docs and `tests/external_scheme.rs`.

pub mod cloudevents;
pub mod declared;
pub(crate) mod verifier;

pub use crate::event::SchemeName;
pub use crate::verify::{Clock, FixedClock, SystemClock, VerifyOptions, DEFAULT_TOLERANCE};
pub use crate::wire::header::MAX_SIGNATURES;
pub use verifier::{
    Answers, Check, Events, IntoVerifier, Scheme, SchemeInfo, TextKeyed, TextKeys, Verifier,
    DEFAULT_BODY_LIMIT,
};

use http::HeaderMap;

/// A built-in scheme, as configuration and the CLI name it: now [`providers::Provider`](crate::providers::Provider).
#[deprecated(note = "use verihook::providers::Provider")]
pub type Builtin = crate::providers::Provider;

/// Every built-in scheme: now [`providers::ALL`](crate::providers::ALL).
#[deprecated(note = "use verihook::providers::ALL")]
pub static BUILTINS: &[&crate::providers::Provider] = crate::providers::ALL;

/// The built-in scheme called `name` (or one of its aliases), ignoring case: now
/// [`providers::find`](crate::providers::find).
#[deprecated(note = "use verihook::providers::find")]
#[must_use]
pub fn builtin(name: &str) -> Option<&'static crate::providers::Provider> {
    crate::providers::find(name)
}

/// The built-in scheme whose signature (or token) header `headers` carry: now
/// [`providers::detect`](crate::providers::detect).
#[deprecated(note = "use verihook::providers::detect")]
#[must_use]
pub fn detect(headers: &HeaderMap) -> Option<&'static crate::providers::Provider> {
    crate::providers::detect(headers)
}
