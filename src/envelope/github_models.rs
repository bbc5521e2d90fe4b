//! GitHub's webhook payloads as [octocrab](https://docs.rs/octocrab)'s models (feature
//! `octocrab`), instead of structs written by hand.
//!
//! A route handler takes octocrab's [`WebhookEvent`] (every GitHub event, its kind chosen by
//! `X-GitHub-Event`), or [`GithubEvent<T>`](super::GithubEvent) with one of octocrab's payload
//! types as `T`. The payload types are octocrab's own, named through the [`octocrab`] re-exported
//! here (the version verihook builds against, so the two cannot drift) or through the app's own
//! `octocrab` dependency of the same version:
//!
//! ```
//! use verihook::envelope::github_models::octocrab::models::webhook_events::{
//!     payload::PushWebhookEventPayload, WebhookEventPayload,
//! };
//! use verihook::envelope::github_models::WebhookEvent;
//! use verihook::envelope::GithubEvent;
//! use verihook::{EventRouter, HandlerError};
//!
//! async fn pushed(event: GithubEvent<Box<PushWebhookEventPayload>>) -> Result<(), HandlerError> {
//!     println!("{} now at {}", event.payload.r#ref, event.payload.after);
//!     Ok(())
//! }
//!
//! async fn any_other(event: WebhookEvent) -> Result<(), HandlerError> {
//!     if let WebhookEventPayload::PullRequest(pull) = event.specific {
//!         println!("pull request #{} {:?}", pull.number, pull.action);
//!     }
//!     Ok(())
//! }
//!
//! let events = EventRouter::new()
//!     .route_for("github", "push", pushed)
//!     .route_for("github", "*", any_other);
//! # let _ = events;
//! ```

/// The `octocrab` crate whose models these are: name any payload type through it.
pub use octocrab;
/// The one octocrab type verihook itself routes: a handler's argument for every GitHub event.
pub use octocrab::models::webhook_events::WebhookEvent;

// Until 0.1 octocrab's payload module and enums were re-exported here, inlining ~140 of
// octocrab's types into verihook's docs; kept reachable, hidden, for one release.
#[doc(hidden)]
pub use octocrab::models::webhook_events::payload;
/// Moved: name it through [`octocrab`].
#[deprecated(
    note = "use verihook::envelope::github_models::octocrab::models::webhook_events::WebhookEventPayload"
)]
#[doc(hidden)]
pub type WebhookEventPayload = octocrab::models::webhook_events::WebhookEventPayload;
/// Moved: name it through [`octocrab`].
#[deprecated(
    note = "use verihook::envelope::github_models::octocrab::models::webhook_events::WebhookEventType"
)]
#[doc(hidden)]
pub type WebhookEventType = octocrab::models::webhook_events::WebhookEventType;

use crate::error::PayloadError;
use crate::handler::HandlerError;
use crate::router::{FromRouted, Routed};

/// The whole GitHub event as octocrab models it, chosen by `X-GitHub-Event` (an unsigned
/// header: a body that does not fit the kind it names is a [`PayloadError`]).
impl<S> FromRouted<S> for WebhookEvent {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        let kind = routed.route_key().map_or("", |key| key.kind());
        WebhookEvent::try_from_header_and_body(kind, routed.delivery().body())
            .map_err(|error| Box::new(PayloadError::new(error)) as HandlerError)
    }
}
