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
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{parse_form, parse_payload};
use crate::event::{final_member_text, first_members, Event, Field, RouteKey};
use crate::handler::HandlerError;
use crate::router::{FromRouted, Routed};

#[cfg(feature = "octocrab")]
#[cfg_attr(docsrs, doc(cfg(feature = "octocrab")))]
pub mod github_models;

/// The key an event is routed by, read from the verified event as its sender defines it (see
/// the [module](self) table). `None` when the event carries no type: only a fallback route
/// takes it.
pub(crate) fn route_key(event: &Event) -> Option<RouteKey> {
    let body = &event.body[..];
    match event.scheme() {
        // GitHub and Linear put `action` (and Linear its `type`) first: the read stops there.
        "github" => {
            let name = event.event_type()?;
            let [action] = first_members(body, ["action"]);
            Some(RouteKey::with_action(&name, action.as_deref()))
        }
        "linear" => {
            let [kind, action] = first_members(body, ["type", "action"]);
            Some(RouteKey::with_action(&kind?, action.as_deref()))
        }
        "slack" => {
            let keys = serde_json::from_slice::<Nested<'_>>(body).ok()?;
            match (keys.kind.as_deref(), keys.event.and_then(|e| e.kind)) {
                (Some("event_callback"), Some(inner)) => Some(RouteKey::new(&inner)),
                (Some(outer), _) => Some(RouteKey::new(outer)),
                (None, _) => None,
            }
        }
        "discord" => {
            let keys = serde_json::from_slice::<Discord<'_>>(body).ok()?;
            if let Some(inner) = keys.event.and_then(|e| e.kind) {
                return Some(RouteKey::new(&inner));
            }
            let name = keys.data.and_then(|d| d.name);
            match keys.kind? {
                2 => Some(RouteKey::with_action(
                    "application_command",
                    name.as_deref(),
                )),
                3 => Some(RouteKey::new("message_component")),
                4 => Some(RouteKey::with_action(
                    "application_command_autocomplete",
                    name.as_deref(),
                )),
                5 => Some(RouteKey::new("modal_submit")),
                other => Some(RouteKey::new(&other.to_string())),
            }
        }
        "gitlab" => {
            let keys = serde_json::from_slice::<Gitlab<'_>>(body).ok();
            match keys {
                Some(Gitlab {
                    object_kind: Some(kind),
                    object_attributes,
                }) => Some(RouteKey::with_action(
                    &kind,
                    object_attributes.as_ref().and_then(|a| a.action.as_deref()),
                )),
                _ => event.event_type().map(|t| RouteKey::new(&t)),
            }
        }
        "twilio" => None,
        _ => match &event.event_type {
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
        },
    }
}

/// The nested members route keys are read from; every other member is skipped unread.
#[derive(Deserialize)]
struct Nested<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Inner<'a>>,
}

#[derive(Deserialize)]
struct Inner<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Discord<'a> {
    #[serde(rename = "type")]
    kind: Option<u8>,
    #[serde(borrow)]
    event: Option<Inner<'a>>,
    #[serde(borrow)]
    data: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Gitlab<'a> {
    #[serde(borrow)]
    object_kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    object_attributes: Option<Attributes<'a>>,
}

#[derive(Deserialize)]
struct Attributes<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
}

/// Builds an envelope from the routed event: the body deserialised once into `W` (the wire
/// shape, `T` inside it), then arranged.
fn from_wire<W: DeserializeOwned, E>(
    routed: &Routed,
    arrange: impl FnOnce(W, &Routed) -> E,
) -> Result<E, HandlerError> {
    let wire = parse_payload::<W>(routed.delivery().body())?;
    Ok(arrange(wire, routed))
}

/// A string, or a number as its digits (senders disagree on how to write a timestamp).
fn text_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => Some(text),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    })
}

fn text(value: Option<Cow<'_, str>>) -> Option<String> {
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

/// A Stripe event (`"object": "event"`), with `data.object` as `T`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StripeEvent<T> {
    /// `id` (`evt_...`), signed.
    pub id: String,
    /// `type` (`invoice.paid`).
    pub event_type: String,
    /// `created`, Unix seconds.
    pub created: u64,
    /// `livemode`: false for test-mode events.
    pub livemode: bool,
    /// `api_version` the event was rendered with.
    pub api_version: Option<String>,
    /// `account`, for Connect events.
    pub account: Option<String>,
    /// `data.object`: the object the event is about.
    pub object: T,
    /// `data.previous_attributes`: the changed members' old values, on `*.updated` events.
    pub previous_attributes: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct StripeWire<T> {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: u64,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    account: Option<String>,
    data: StripeData<T>,
}

#[derive(Deserialize)]
struct StripeData<T> {
    object: T,
    #[serde(default)]
    previous_attributes: Option<Map<String, Value>>,
}

impl<S, T: DeserializeOwned> FromRouted<S> for StripeEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: StripeWire<T>, _| Self {
            id: w.id,
            event_type: w.event_type,
            created: w.created,
            livemode: w.livemode,
            api_version: w.api_version,
            account: w.account,
            object: w.data.object,
            previous_attributes: w.data.previous_attributes,
        })
    }
}

/// A Standard Webhooks payload (`type`, `timestamp`, `data`), with `data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StandardEvent<T> {
    /// The `webhook-id` header (signed).
    pub id: Option<String>,
    /// `type` (`invoice.paid`, `user.created`).
    pub event_type: String,
    /// `timestamp`, when the sender includes it: RFC 3339 as the specification recommends (a
    /// sender that sends Unix seconds instead has them here as digits).
    pub timestamp: Option<String>,
    /// `data`.
    pub data: T,
}

#[derive(Deserialize)]
struct StandardWire<T> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default, deserialize_with = "text_or_number")]
    timestamp: Option<String>,
    data: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for StandardEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: StandardWire<T>, r| Self {
            id: text(r.delivery().id()),
            event_type: w.event_type,
            timestamp: w.timestamp,
            data: w.data,
        })
    }
}

/// A GitHub delivery: the event name (`X-GitHub-Event`), its `action`, and the body as `T`.
///
/// GitHub signs the body only: `event` and `delivery` come from unsigned headers (a hint, see
/// [`Signed`](crate::Signed)); `action` is read from the signed body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GithubEvent<T> {
    /// `X-GitHub-Event` (`pull_request`).
    pub event: String,
    /// The body's `action` (`opened`), for the events that have one.
    pub action: Option<String>,
    /// `X-GitHub-Delivery`.
    pub delivery: Option<String>,
    /// The body.
    pub payload: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for GithubEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |payload: T, r| Self {
            event: r
                .route_key()
                .map(|k| k.kind().to_owned())
                .unwrap_or_default(),
            action: r.route_key().and_then(RouteKey::action).map(str::to_owned),
            delivery: text(r.delivery().id()),
            payload,
        })
    }
}

/// A Slack Events API callback (`"type": "event_callback"`), with the inner `event` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackEvent<T> {
    /// The inner event's `type` (`app_mention`).
    pub event_type: String,
    /// `event_id` (signed).
    pub event_id: String,
    /// `event_time`, Unix seconds.
    pub event_time: u64,
    /// `team_id`.
    pub team_id: Option<String>,
    /// `api_app_id`.
    pub api_app_id: Option<String>,
    /// `event`.
    pub event: T,
}

#[derive(Deserialize)]
struct SlackWire<T> {
    event_id: String,
    event_time: u64,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    api_app_id: Option<String>,
    event: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for SlackEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: SlackWire<T>, r| Self {
            event_type: r
                .route_key()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            event_id: w.event_id,
            event_time: w.event_time,
            team_id: w.team_id,
            api_app_id: w.api_app_id,
            event: w.event,
        })
    }
}

/// A Discord interaction (slash command, component, modal), with `data` as `T`.
///
/// Discord expects the interaction's answer in the response body; the receiver answers `200`
/// with its own JSON, so answer interactions through Discord's follow-up API with
/// [`token`](Self::token) (valid 15 minutes), or verify them with a verifier and answer in your
/// own route.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscordInteraction<T> {
    /// `id` (signed).
    pub id: String,
    /// `application_id`.
    pub application_id: String,
    /// `type`: 2 application command, 3 message component, 4 autocomplete, 5 modal submit.
    pub kind: u8,
    /// `token`, for follow-up messages: a credential, redacted from `Debug`.
    pub token: String,
    /// `guild_id`, when sent from a server.
    pub guild_id: Option<String>,
    /// `channel_id`.
    pub channel_id: Option<String>,
    /// `data` (absent on PING).
    pub data: Option<T>,
}

#[derive(Deserialize)]
struct InteractionWire<T> {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: u8,
    token: String,
    #[serde(default)]
    guild_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default = "Option::default")]
    data: Option<T>,
}

impl<S, T: DeserializeOwned> FromRouted<S> for DiscordInteraction<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: InteractionWire<T>, _| Self {
            id: w.id,
            application_id: w.application_id,
            kind: w.kind,
            token: w.token,
            guild_id: w.guild_id,
            channel_id: w.channel_id,
            data: w.data,
        })
    }
}

impl<T: fmt::Debug> fmt::Debug for DiscordInteraction<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordInteraction")
            .field("id", &self.id)
            .field("application_id", &self.application_id)
            .field("kind", &self.kind)
            .field("token", &"[redacted]")
            .field("guild_id", &self.guild_id)
            .field("channel_id", &self.channel_id)
            .field("data", &self.data)
            .finish()
    }
}

/// A Discord webhook event (`"type": 1` with an `event`), with `event.data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscordEvent<T> {
    /// `application_id`.
    pub application_id: String,
    /// `event.type` (`APPLICATION_AUTHORIZED`).
    pub event_type: String,
    /// `event.timestamp` (ISO 8601).
    pub timestamp: String,
    /// `event.data`.
    pub data: T,
}

#[derive(Deserialize)]
struct DiscordEventWire<T> {
    application_id: String,
    event: DiscordEventBody<T>,
}

#[derive(Deserialize)]
struct DiscordEventBody<T> {
    #[serde(rename = "type")]
    event_type: String,
    timestamp: String,
    data: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for DiscordEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: DiscordEventWire<T>, _| Self {
            application_id: w.application_id,
            event_type: w.event.event_type,
            timestamp: w.event.timestamp,
            data: w.event.data,
        })
    }
}

/// A Shopify delivery: its topic (`X-Shopify-Topic`) and the body as `T`.
///
/// Shopify signs the body only: the topic and ids come from unsigned headers (a hint).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShopifyEvent<T> {
    /// `X-Shopify-Topic` (`orders/create`).
    pub topic: String,
    /// `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`.
    pub event_id: Option<String>,
    /// The body: the resource the topic names.
    pub payload: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for ShopifyEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |payload: T, r| Self {
            topic: r
                .route_key()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            event_id: text(r.delivery().id()),
            payload,
        })
    }
}

/// A Paddle Billing notification (`event_id`, `event_type`, `occurred_at`, `data`), with `data`
/// as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaddleEvent<T> {
    /// `event_id` (`evt_...`).
    pub event_id: String,
    /// `event_type` (`transaction.completed`).
    pub event_type: String,
    /// `occurred_at` (RFC 3339).
    pub occurred_at: String,
    /// `notification_id` (`ntf_...`).
    pub notification_id: Option<String>,
    /// `data`: the entity the event is about.
    pub data: T,
}

#[derive(Deserialize)]
struct PaddleWire<T> {
    event_id: String,
    event_type: String,
    occurred_at: String,
    #[serde(default)]
    notification_id: Option<String>,
    data: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for PaddleEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: PaddleWire<T>, _| Self {
            event_id: w.event_id,
            event_type: w.event_type,
            occurred_at: w.occurred_at,
            notification_id: w.notification_id,
            data: w.data,
        })
    }
}

/// A Linear webhook (`action`, `type`, `data`, ...), with `data` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinearEvent<T> {
    /// `action`: `create`, `update` or `remove`.
    pub action: String,
    /// `type`: the entity (`Issue`, `Comment`, `Project`).
    pub event_type: String,
    /// `createdAt` (ISO 8601).
    pub created_at: Option<String>,
    /// `url` of the entity.
    pub url: Option<String>,
    /// `organizationId`.
    pub organization_id: Option<String>,
    /// `webhookTimestamp`, Unix milliseconds (checked for freshness by the scheme).
    pub webhook_timestamp: Option<u64>,
    /// `webhookId`.
    pub webhook_id: Option<String>,
    /// `updatedFrom`: the changed members' old values, on `update`.
    pub updated_from: Option<Map<String, Value>>,
    /// `data`: the entity.
    pub data: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinearWire<T> {
    action: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    webhook_timestamp: Option<u64>,
    #[serde(default)]
    webhook_id: Option<String>,
    #[serde(default)]
    updated_from: Option<Map<String, Value>>,
    data: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for LinearEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: LinearWire<T>, _| Self {
            action: w.action,
            event_type: w.event_type,
            created_at: w.created_at,
            url: w.url,
            organization_id: w.organization_id,
            webhook_timestamp: w.webhook_timestamp,
            webhook_id: w.webhook_id,
            updated_from: w.updated_from,
            data: w.data,
        })
    }
}

/// A Zoom event (`event`, `event_ts`, `payload`), with `payload` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZoomEvent<T> {
    /// `event` (`meeting.started`).
    pub event: String,
    /// `event_ts`, Unix milliseconds.
    pub event_ts: u64,
    /// `payload` (`account_id`, `object`).
    pub payload: T,
}

#[derive(Deserialize)]
struct ZoomWire<T> {
    event: String,
    event_ts: u64,
    payload: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for ZoomEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: ZoomWire<T>, _| Self {
            event: w.event,
            event_ts: w.event_ts,
            payload: w.payload,
        })
    }
}

/// A Square notification (`merchant_id`, `type`, `event_id`, `created_at`, `data`), with
/// `data.object` as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SquareEvent<T> {
    /// `merchant_id`.
    pub merchant_id: Option<String>,
    /// `type` (`payment.created`).
    pub event_type: String,
    /// `event_id`.
    pub event_id: String,
    /// `created_at` (RFC 3339).
    pub created_at: String,
    /// `data.type`: the object's type (`payment`).
    pub object_type: String,
    /// `data.id`: the object's id.
    pub object_id: String,
    /// `data.object` (absent on test notifications).
    pub object: Option<T>,
}

#[derive(Deserialize)]
struct SquareWire<T> {
    #[serde(default)]
    merchant_id: Option<String>,
    #[serde(rename = "type")]
    event_type: String,
    event_id: String,
    created_at: String,
    data: SquareData<T>,
}

#[derive(Deserialize)]
struct SquareData<T> {
    #[serde(rename = "type")]
    object_type: String,
    id: String,
    #[serde(default = "Option::default")]
    object: Option<T>,
}

impl<S, T: DeserializeOwned> FromRouted<S> for SquareEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |w: SquareWire<T>, _| Self {
            merchant_id: w.merchant_id,
            event_type: w.event_type,
            event_id: w.event_id,
            created_at: w.created_at,
            object_type: w.data.object_type,
            object_id: w.data.id,
            object: w.data.object,
        })
    }
}

/// A GitLab delivery: `object_kind`, `object_attributes.action` where there is one, and the
/// body as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitlabEvent<T> {
    /// `object_kind` (`push`, `merge_request`), else the `X-Gitlab-Event` header.
    pub object_kind: String,
    /// `object_attributes.action` (`open`, `merge`), where the event has one.
    pub action: Option<String>,
    /// The body.
    pub payload: T,
}

impl<S, T: DeserializeOwned> FromRouted<S> for GitlabEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        from_wire(routed, |payload: T, r| Self {
            object_kind: r
                .route_key()
                .map(|k| k.kind().to_owned())
                .unwrap_or_default(),
            action: r.route_key().and_then(RouteKey::action).map(str::to_owned),
            payload,
        })
    }
}

impl<S, T: DeserializeOwned> FromRouted<S> for crate::scheme::cloudevents::StructuredEvent<T> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(parse_payload(routed.delivery().body())?)
    }
}
