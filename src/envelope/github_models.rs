//! GitHub's webhook payloads as [octocrab](https://docs.rs/octocrab)'s models (feature
//! `octocrab`), instead of structs written by hand.
//!
//! A route handler takes octocrab's [`WebhookEvent`] (every GitHub event, its kind chosen by
//! `X-GitHub-Event`), or [`GithubEvent<T>`](super::GithubEvent) with one of octocrab's payload
//! types as `T` (re-exported here as [`payload`]):
//!
//! ```
//! use verihook::envelope::github_models::{payload::PushWebhookEventPayload, WebhookEvent, WebhookEventPayload};
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

pub use octocrab::models::webhook_events::{
    payload, WebhookEvent, WebhookEventPayload, WebhookEventType,
};

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
