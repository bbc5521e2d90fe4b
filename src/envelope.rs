//! Provider envelopes: how each sender wraps its events, so a [`EventRouter`](crate::EventRouter) finds
//! the route key and a handler gets its payload as the app's own type without knowing the wire
//! format.
//!
//! A route handler takes one of these as its argument, with `T` the app's payload type; it is
//! deserialised only after the signature passed, and only for the route that matched. A payload
//! that does not fit `T` is a [`PayloadError`](crate::PayloadError) naming the member that did not fit (see
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
//! | CloudEvents | `type` | [`StructuredEvent<T>`](crate::cloudevents::StructuredEvent) (structured mode) or [`Json<T>`] (binary mode) | `data` |
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

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{parse_form, parse_payload};
use crate::event::{final_member_text, first_members, Event, Field, RouteKey};
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

/// The key an event is routed by, read from the verified event as its sender defines it (see
/// the [module](self) table): the built-in provider whose scheme verified it reads it, else the
/// type the scheme reported. `None` when the event carries no type: only a fallback route
/// takes it.
pub(crate) fn route_key(event: &Event) -> Option<RouteKey> {
    match crate::providers::by_scheme(event.scheme()) {
        Some(provider) => (provider.route_key)(event),
        None => reported_route_key(event),
    }
}

/// The event type the scheme reported, as the route key: for declared schemes, CloudEvents and
/// the providers whose type is one member of the body or one header.
pub(crate) fn reported_route_key(event: &Event) -> Option<RouteKey> {
    let body = &event.body[..];
    match &event.event_type {
        // A type the scheme already resolved (CloudEvents' `type`), or an inbox entry's
        // stored type, is the key as it is.
        Field::Text(text) => Some(RouteKey::new(text.as_ref())),
        // Stripe's `type` ends the event: read from the end first.
        Field::Body(name) => match final_member_text(body, name) {
            Some(kind) => Some(RouteKey::new(kind)),
            None => {
                let [kind] = first_members(body, [*name]);
                kind.map(|t| RouteKey::new(&t))
            }
        },
        _ => event.event_type().map(|t| RouteKey::new(&t)),
    }
}

/// Builds an envelope from the routed event: the body deserialised once into `W` (the wire
/// shape, `T` inside it), then arranged.
pub(crate) fn from_wire<W: DeserializeOwned, E>(
    routed: &Routed,
    arrange: impl FnOnce(W, &Routed) -> E,
) -> Result<E, HandlerError> {
    let wire = parse_payload::<W>(routed.delivery().body())?;
    Ok(arrange(wire, routed))
}

/// A string, or a number as its digits (senders disagree on how to write a timestamp).
pub(crate) fn text_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => Some(text),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    })
}

pub(crate) fn text(value: Option<Cow<'_, str>>) -> Option<String> {
    value.map(Cow::into_owned)
}

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
