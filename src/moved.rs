//! The names the crate root exported until 0.1, each now under the module that defines it.
//! Kept for one release, hidden from the docs. Types and constants are deprecated aliases; a
//! `#[deprecated]` on a `use` has no effect, so a trait, a unit or tuple struct (used as a
//! value) and a module are plain hidden re-exports. `scripts/surface-paths.py` rewrites the old
//! paths.
//!
//! The aliases whose deprecation is commented out with a PENDING mark are still named by
//! `examples/` and the CLI, which this change leaves to their owners; once
//! `scripts/surface-paths.py` has rewritten those, uncomment each mark (here and on
//! `Explainer::builtin` in `src/diagnose.rs`) so the old paths warn.

use std::time::Duration;

#[deprecated(note = "use verihook::error::PayloadError")]
#[doc(hidden)]
pub type PayloadError = crate::error::PayloadError;
#[deprecated(note = "use verihook::error::SecretError")]
#[doc(hidden)]
pub type SecretError = crate::error::SecretError;
#[deprecated(note = "use verihook::event::EventBuilder")]
#[doc(hidden)]
pub type EventBuilder = crate::event::EventBuilder;
#[deprecated(note = "use verihook::event::Field")]
#[doc(hidden)]
pub type Field = crate::event::Field;
#[deprecated(note = "use verihook::event::Handshake")]
#[doc(hidden)]
pub type Handshake = crate::event::Handshake;
#[deprecated(note = "use verihook::event::Signed")]
#[doc(hidden)]
pub type Signed = crate::event::Signed;
#[deprecated(note = "use verihook::event::Verified")]
#[doc(hidden)]
pub type Verified = crate::event::Verified;
#[cfg(feature = "discord")]
#[deprecated(note = "use verihook::providers::discord::DiscordVerifier")]
#[doc(hidden)]
pub type DiscordVerifier = crate::providers::discord::DiscordVerifier;
#[deprecated(note = "use verihook::providers::github::GithubVerifier")]
#[doc(hidden)]
pub type GithubVerifier = crate::providers::github::GithubVerifier;
#[deprecated(note = "use verihook::providers::gitlab::GitlabVerifier")]
#[doc(hidden)]
pub type GitlabVerifier = crate::providers::gitlab::GitlabVerifier;
#[deprecated(note = "use verihook::providers::linear::LinearVerifier")]
#[doc(hidden)]
pub type LinearVerifier = crate::providers::linear::LinearVerifier;
#[deprecated(note = "use verihook::providers::paddle::PaddleVerifier")]
#[doc(hidden)]
pub type PaddleVerifier = crate::providers::paddle::PaddleVerifier;
#[deprecated(note = "use verihook::providers::shopify::ShopifyVerifier")]
#[doc(hidden)]
pub type ShopifyVerifier = crate::providers::shopify::ShopifyVerifier;
#[deprecated(note = "use verihook::providers::slack::SlackVerifier")]
#[doc(hidden)]
pub type SlackVerifier = crate::providers::slack::SlackVerifier;
#[deprecated(note = "use verihook::providers::square::SquareVerifier")]
#[doc(hidden)]
pub type SquareVerifier = crate::providers::square::SquareVerifier;
#[deprecated(note = "use verihook::providers::standard::StandardVerifier")]
#[doc(hidden)]
pub type StandardVerifier = crate::providers::standard::StandardVerifier;
#[deprecated(note = "use verihook::providers::stripe::StripeVerifier")]
#[doc(hidden)]
pub type StripeVerifier = crate::providers::stripe::StripeVerifier;
#[deprecated(note = "use verihook::providers::twilio::TwilioVerifier")]
#[doc(hidden)]
pub type TwilioVerifier = crate::providers::twilio::TwilioVerifier;
#[deprecated(note = "use verihook::providers::zoom::ZoomVerifier")]
#[doc(hidden)]
pub type ZoomVerifier = crate::providers::zoom::ZoomVerifier;
#[deprecated(note = "use verihook::receiver::ReceiverBuilder")]
#[doc(hidden)]
pub type ReceiverBuilder = crate::receiver::ReceiverBuilder;
#[deprecated(note = "use verihook::router::UnroutedPolicy")]
#[doc(hidden)]
pub type UnroutedPolicy = crate::router::UnroutedPolicy;
#[deprecated(note = "use verihook::scheme::FixedClock")]
#[doc(hidden)]
pub type FixedClock = crate::scheme::FixedClock;
#[deprecated(note = "use verihook::scheme::VerifyOptions")]
#[doc(hidden)]
pub type VerifyOptions = crate::scheme::VerifyOptions;
#[deprecated(note = "use verihook::error::MAX_SENDER_NAME")]
#[doc(hidden)]
pub const MAX_SENDER_NAME: usize = crate::error::MAX_SENDER_NAME;
#[deprecated(note = "use verihook::event::MAX_KEY_LEN")]
#[doc(hidden)]
pub const MAX_KEY_LEN: usize = crate::event::MAX_KEY_LEN;
#[deprecated(note = "use verihook::handler::DEFAULT_LEASE")]
#[doc(hidden)]
pub const DEFAULT_LEASE: Duration = crate::handler::DEFAULT_LEASE;
#[deprecated(note = "use verihook::handler::DEFAULT_RETAIN")]
#[doc(hidden)]
pub const DEFAULT_RETAIN: Duration = crate::handler::DEFAULT_RETAIN;
#[deprecated(note = "use verihook::providers::linear::LINEAR_TOLERANCE")]
#[doc(hidden)]
pub const LINEAR_TOLERANCE: Duration = crate::providers::linear::LINEAR_TOLERANCE;
#[deprecated(note = "use verihook::providers::paddle::PADDLE_TOLERANCE")]
#[doc(hidden)]
pub const PADDLE_TOLERANCE: Duration = crate::providers::paddle::PADDLE_TOLERANCE;
#[deprecated(note = "use verihook::scheme::DEFAULT_BODY_LIMIT")]
#[doc(hidden)]
pub const DEFAULT_BODY_LIMIT: usize = crate::scheme::DEFAULT_BODY_LIMIT;
#[deprecated(note = "use verihook::scheme::DEFAULT_TOLERANCE")]
#[doc(hidden)]
pub const DEFAULT_TOLERANCE: Duration = crate::scheme::DEFAULT_TOLERANCE;

// A deprecation on these would not fire: a trait, a tuple struct used as its constructor, a unit
// struct used as a value, a module.
#[doc(hidden)]
pub use crate::router::State;
#[doc(hidden)]
pub use crate::scheme::cloudevents;
#[doc(hidden)]
pub use crate::scheme::{Clock, SystemClock};
