//! Provider envelopes: how each sender wraps its events, so a [`EventRouter`](crate::EventRouter) finds
//! the route key and a handler gets its payload as the app's own type without knowing the wire
//! format.
//!
//! A route handler takes one of these as its argument, with `T` the app's payload type; it is
//! deserialised only after the signature passed, and only for the route that matched. A payload
//! that does not fit `T` is a [`PayloadError`](crate::error::PayloadError) naming the member that did not fit (see
//! [`EventRouter`](crate::EventRouter) for how it is answered).
//!
//! | Sender | Route key | Envelope | `T` is |
//! |---|---|---|---|
//! | Stripe | `type` (`invoice.paid`) | [`StripeEvent<T>`] | `data.object` |
//! | Standard Webhooks (Svix, Clerk, Resend, ...) | `type` | [`StandardEvent<T>`] | `data` |
//! | GitHub | `X-GitHub-Event` `.` `action` (`pull_request.opened`; `pull_request` matches too) | [`GithubEvent<T>`], or octocrab's `WebhookEvent` (feature `octocrab`, see `github_models`) | the body |
//! | Slack (Events API) | the inner `event.type` (`app_mention`) | [`SlackEvent<T>`] | `event` |
//! | Slack (slash commands), Twilio | none (the fallback route) | [`Form<T>`] | the form parameters |
//! | Discord interactions | `application_command.<name>`, `message_component`, `modal_submit`, ... | [`DiscordInteraction<T>`] | `data` |
//! | Discord webhook events | `event.type` (`APPLICATION_AUTHORIZED`) | [`DiscordEvent<T>`] | `event.data` |
//! | Shopify | `X-Shopify-Topic` (`orders/create`) | [`ShopifyEvent<T>`] | the body |
//! | Paddle | `event_type` (`transaction.completed`) | [`PaddleEvent<T>`] | `data` |
//! | Linear | `type` `.` `action` (`Issue.create`; `Issue` matches too) | [`LinearEvent<T>`] | `data` |
//! | Zoom | `event` (`meeting.started`) | [`ZoomEvent<T>`] | `payload` |
//! | Square | `type` (`payment.created`) | [`SquareEvent<T>`] | `data.object` |
//! | GitLab | `object_kind` `.` `object_attributes.action` (`merge_request.open`) | [`GitlabEvent<T>`] | the body |
//! | CloudEvents | `type` | [`StructuredEvent<T>`](crate::scheme::cloudevents::StructuredEvent) (structured mode) or [`Json<T>`] (binary mode) | `data` |
//! | any other | the event type its scheme reports | [`Json<T>`] | the body |
//!
//! ```
//! use verihook::envelope::StripeEvent;
//! use verihook::HandlerError;
//!
//! #[derive(serde::Deserialize)]
//! struct Invoice {
//!     id: String,
//!     amount_paid: u64,
//! }
//!
//! async fn invoice_paid(event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
//!     println!("{} ({}): {} paid", event.id, event.event_type, event.object.amount_paid);
//!     Ok(())
//! }
//! let _router = verihook::EventRouter::new().route("invoice.paid", invoice_paid);
//! ```

use serde::de::DeserializeOwned;

use crate::error::{parse_form, parse_payload};
use crate::handler::HandlerError;
use crate::router::{FromRouted, Routed};

#[cfg(feature = "octocrab")]
#[cfg_attr(docsrs, doc(cfg(feature = "octocrab")))]
pub mod github_models;

// Each provider's envelope lives in its file; here they are where apps have always named them.
pub use crate::providers::discord::{DiscordEvent, DiscordInteraction};
pub use crate::providers::github::GithubEvent;
pub use crate::providers::gitlab::GitlabEvent;
pub use crate::providers::linear::LinearEvent;
pub use crate::providers::paddle::PaddleEvent;
pub use crate::providers::shopify::ShopifyEvent;
pub use crate::providers::slack::SlackEvent;
pub use crate::providers::square::SquareEvent;
pub use crate::providers::standard::StandardEvent;
pub use crate::providers::stripe::StripeEvent;
pub use crate::providers::zoom::ZoomEvent;

/// The whole body as `T`, for any JSON sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<S, T: DeserializeOwned> FromRouted<S> for Json<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(Self(parse_payload(routed.delivery().body())?))
    }
}

/// The form parameters (`application/x-www-form-urlencoded`) as `T`: Twilio's requests, Slack's
/// slash commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<S, T: DeserializeOwned> FromRouted<S> for Form<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(Self(parse_form(routed.delivery().body())?))
    }
}

impl<S, T: DeserializeOwned> FromRouted<S> for crate::scheme::cloudevents::StructuredEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(parse_payload(routed.delivery().body())?)
    }
}
