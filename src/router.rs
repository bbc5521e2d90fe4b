//! Routes each verified event, by its type, to the handler registered for it, which takes the
//! payload as the app's own type.
//!
//! ```
//! use verihook::envelope::{GithubEvent, StripeEvent};
//! use verihook::{HandlerError, EventRouter, router::State};
//!
//! #[derive(Clone)]
//! struct App {
//!     name: &'static str,
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Invoice {
//!     amount_paid: u64,
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Push {
//!     after: String,
//! }
//!
//! async fn invoice_paid(State(app): State<App>, event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
//!     println!("{}: invoice paid, {}", app.name, event.object.amount_paid);
//!     Ok(())
//! }
//!
//! async fn any_invoice(event: StripeEvent<serde_json::Value>) -> Result<(), HandlerError> {
//!     println!("other invoice event {}", event.event_type);
//!     Ok(())
//! }
//!
//! async fn pushed(event: GithubEvent<Push>) -> Result<(), HandlerError> {
//!     println!("pushed {}", event.payload.after);
//!     Ok(())
//! }
//!
//! let router = EventRouter::with_state_type()
//!     .route("invoice.paid", invoice_paid) // exact
//!     .route("invoice.*", any_invoice) // every other invoice.* type
//!     .route_for("github", "push", pushed) // only for the sender named "github"
//!     .with_state(App { name: "shop" });
//! # let _ = router;
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::{ready, Future};
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize as _;
use serde_json::Value;

use crate::error::{parse_payload, ConfigError};
pub use crate::event::RouteKey;
use crate::handler::{Delivery, HandlerError};
pub use crate::handler::{Handled, Unrouted};

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Erased<S> = Arc<dyn Fn(&Routed, &S) -> HandlerFuture + Send + Sync>;

/// A verified, claimed event on its way to a route: the [`Delivery`] and the key it was routed
/// by. What [`FromRouted`] extractors read from.
#[derive(Debug)]
pub struct Routed {
    delivery: Delivery,
}

impl Routed {
    /// The delivery: the verified event and its claim.
    #[must_use]
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The key it was routed by (`None` for an event without a type, taken by the fallback).
    #[must_use]
    pub fn route_key(&self) -> Option<&RouteKey> {
        self.delivery.route_key()
    }
}

/// What a route handler's arguments are built from: the [`Routed`] event and the router's
/// state. verihook implements it for [`State`], [`Delivery`], [`RouteKey`] and every
/// [envelope](crate::envelope); apps may implement it for their own extractors.
pub trait FromRouted<S>: Sized {
    /// Builds the argument.
    ///
    /// # Errors
    ///
    /// Any error: it fails the event as the handler's own error would. Return a
    /// [`PayloadError`](crate::error::PayloadError) for a payload that does not fit, so that it is
    /// answered `422` (inline) or buried (inbox) rather than retried.
    fn from_routed(routed: &Routed, state: &S) -> Result<Self, HandlerError>;
}

/// The router's state, as a handler argument: `State(app): State<App>`, given once with
/// [`EventRouter::with_state`] (cloned for each event, so keep it cheap: an `Arc` or handles).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

impl<S: Clone> FromRouted<S> for State<S> {
    fn from_routed(_: &Routed, state: &S) -> Result<Self, HandlerError> {
        Ok(Self(state.clone()))
    }
}

/// The delivery itself (event, idempotency key, claim token, attempt), for handlers that mark
/// the event done in their own transaction.
impl<S> FromRouted<S> for Delivery {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(routed.delivery.clone())
    }
}

/// The key the event was routed by (`pull_request.opened`, `app_mention`), for handlers that log
/// or branch on it. Fails (as a handler error) only for an event without a type, which only a
/// fallback route takes: take `Option<RouteKey>` there.
impl<S> FromRouted<S> for RouteKey {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        routed
            .route_key()
            .cloned()
            .ok_or_else(|| "the event has no type: take an Option<RouteKey>".into())
    }
}

/// The key the event was routed by, when it has one.
impl<S> FromRouted<S> for Option<RouteKey> {
    fn from_routed(routed: &Routed, _: &S) -> Result<Self, HandlerError> {
        Ok(routed.route_key().cloned())
    }
}

/// An async function usable as a route: one to four arguments, each a [`FromRouted`]
/// extractor (state, delivery, envelope), returning `Result<(), HandlerError>`.
pub trait RouteHandler<Args, S>: Send + Sync + 'static {
    /// Builds the arguments and runs the function.
    fn call(&self, routed: &Routed, state: &S) -> HandlerFuture;
}

macro_rules! route_handler {
    ($($arg:ident),+) => {
        impl<F, Fut, S, $($arg),+> RouteHandler<($($arg,)+), S> for F
        where
            F: Fn($($arg),+) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
            $($arg: FromRouted<S>,)+
        {
            #[allow(non_snake_case)]
            fn call(&self, routed: &Routed, state: &S) -> HandlerFuture {
                $(
                    let $arg = match $arg::from_routed(routed, state) {
                        Ok(value) => value,
                        Err(error) => return Box::pin(ready(Err(error))),
                    };
                )+
                Box::pin(self($($arg),+))
            }
        }
    };
}

route_handler!(A1);
route_handler!(A1, A2);
route_handler!(A1, A2, A3);
route_handler!(A1, A2, A3, A4);

/// What a route matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// One type (`invoice.paid`); for keys with an action, also the kind alone (`pull_request`
    /// matches `pull_request.opened`).
    Exact(String),
    /// Every type starting with this, dot included (`invoice.` from `invoice.*`).
    Prefix(String),
    /// Anything (`*`, or [`EventRouter::fallback`]).
    Fallback,
}

impl Pattern {
    fn parse(pattern: &str) -> Result<Self, &'static str> {
        if pattern == "*" {
            return Ok(Self::Fallback);
        }
        if pattern.is_empty() {
            return Err("a route needs an event type, `prefix.*` or `*`");
        }
        if pattern.chars().any(char::is_control) {
            return Err("a route's event type has a control character");
        }
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') && prefix.len() > 1 && !prefix.contains('*') => {
                Ok(Self::Prefix(prefix.to_owned()))
            }
            Some(_) => Err("`*` may only end a route, after a dot (`invoice.*`), or stand alone"),
            None if pattern.contains('*') => {
                Err("`*` may only end a route, after a dot (`invoice.*`), or stand alone")
            }
            None => Ok(Self::Exact(pattern.to_owned())),
        }
    }

    /// How specifically this pattern matches `key`: higher wins; `None` when it does not.
    fn rank(&self, key: Option<&RouteKey>) -> Option<(u8, usize)> {
        match (self, key) {
            (Self::Exact(exact), Some(key)) if exact == key.as_str() => Some((4, 0)),
            (Self::Exact(exact), Some(key)) if key.action().is_some() && exact == key.kind() => {
                Some((3, 0))
            }
            (Self::Prefix(prefix), Some(key)) if key.as_str().starts_with(prefix.as_str()) => {
                Some((2, prefix.len()))
            }
            (Self::Fallback, _) => Some((1, 0)),
            _ => None,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(exact) => f.write_str(exact),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::Fallback => f.write_str("*"),
        }
    }
}

struct Route<S> {
    sender: Option<String>,
    pattern: Pattern,
    handler: Erased<S>,
}

/// What happens to an event whose type no route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnroutedPolicy {
    /// Acknowledge it (`200`, code `unrouted`) and report it: the default. A provider that adds
    /// a new event type, or an endpoint subscribed to more types than the app handles, must
    /// not see failures (it would retry for days, then disable the endpoint).
    #[default]
    Acknowledge,
    /// Refuse it (`501 Not Implemented`, code `no_route`, claim released) so that the provider
    /// retries it, for apps that deploy the route later and want the events then.
    Reject,
}

/// Routes events by type to typed handlers; give it to a
/// [`ReceiverBuilder::router`](crate::receiver::ReceiverBuilder::router) or an inbox
/// [`WorkerBuilder::router`](crate::inbox::WorkerBuilder::router).
///
/// A route is an event type (`invoice.paid`), a prefix (`invoice.*`) or the fallback (`*`), for
/// every sender or for one ([`route_for`](Self::route_for)). The most specific route wins: the
/// exact type, then the kind without its action (`pull_request` for `pull_request.opened`), then
/// the longest prefix, then the fallback; at equal rank, a route for the event's sender beats
/// one for every sender. Two routes with the same pattern for the same sender are a
/// [`ConfigError::DuplicateRoute`] when the receiver or worker is built.
///
/// The handler's payload argument (an [envelope](crate::envelope)) is deserialised only after
/// the signature passed, for the route that matched. An event no route takes is acknowledged
/// and reported (see [`UnroutedPolicy`]); a payload that does not fit its route's type is
/// answered `422 invalid_payload` with the claim released (its provider's retries meet the same
/// answer until the app is fixed; none is retried forever), and in the inbox becomes a dead
/// letter at once.
///
/// See the [module](crate::router) example, and [`handle`](Self::handle) (the test kit's) to
/// test routes without HTTP.
pub struct EventRouter<S = ()> {
    routes: Vec<Route<S>>,
    policy: UnroutedPolicy,
    error: Option<ConfigError>,
}

impl EventRouter<()> {
    /// A router without routes and without state.
    #[must_use]
    pub fn new() -> Self {
        Self::with_state_type()
    }
}

impl Default for EventRouter<()> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Send + Sync + 'static> EventRouter<S> {
    /// A router whose handlers take a [`State<S>`]; give the state with
    /// [`with_state`](Self::with_state) once the routes are added.
    #[must_use]
    pub fn with_state_type() -> Self {
        Self {
            routes: Vec::new(),
            policy: UnroutedPolicy::default(),
            error: None,
        }
    }

    /// Routes events of type `pattern` (`invoice.paid`, `invoice.*`, `*`) from every sender to
    /// `handler`.
    #[must_use]
    pub fn route<H, Args>(self, pattern: &str, handler: H) -> Self
    where
        H: RouteHandler<Args, S>,
    {
        self.add(None, pattern, handler)
    }

    /// Routes events of type `pattern` from the sender named `sender` (as added to the receiver)
    /// to `handler`.
    #[must_use]
    pub fn route_for<H, Args>(self, sender: &str, pattern: &str, handler: H) -> Self
    where
        H: RouteHandler<Args, S>,
    {
        self.add(Some(sender), pattern, handler)
    }

    /// The route for events no other route takes (the same as `route("*", handler)`).
    #[must_use]
    pub fn fallback<H, Args>(self, handler: H) -> Self
    where
        H: RouteHandler<Args, S>,
    {
        self.add(None, "*", handler)
    }

    /// What happens to an event no route takes (default: [`UnroutedPolicy::Acknowledge`]).
    #[must_use]
    pub fn unrouted(mut self, policy: UnroutedPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn add<H, Args>(mut self, sender: Option<&str>, pattern: &str, handler: H) -> Self
    where
        H: RouteHandler<Args, S>,
    {
        let parsed = match Pattern::parse(pattern) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.error.get_or_insert(ConfigError::BadRoute {
                    pattern: pattern.to_owned(),
                    reason,
                });
                return self;
            }
        };
        let sender = sender.map(str::to_owned);
        if self
            .routes
            .iter()
            .any(|r| r.sender == sender && r.pattern == parsed)
        {
            self.error.get_or_insert(ConfigError::DuplicateRoute {
                pattern: pattern.to_owned(),
                sender: sender.clone(),
            });
            return self;
        }
        self.routes.push(Route {
            sender,
            pattern: parsed,
            handler: Arc::new(move |routed, state| handler.call(routed, state)),
        });
        self
    }

    /// Gives the state the handlers' [`State<S>`] arguments are cloned from.
    #[must_use]
    pub fn with_state(self, state: S) -> EventRouter<()> {
        let state = Arc::new(state);
        let routes = self
            .routes
            .into_iter()
            .map(|route| {
                let state = state.clone();
                let handler = route.handler;
                let bound: Erased<()> =
                    Arc::new(move |routed: &Routed, (): &()| handler(routed, &state));
                Route {
                    sender: route.sender,
                    pattern: route.pattern,
                    handler: bound,
                }
            })
            .collect();
        EventRouter {
            routes,
            policy: self.policy,
            error: self.error,
        }
    }

    /// The first mistake in the routes (a duplicate or malformed pattern), if any; the receiver
    /// and worker builders report it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::DuplicateRoute`] or [`ConfigError::BadRoute`].
    pub fn check(&self) -> Result<(), ConfigError> {
        self.error.clone().map_or(Ok(()), Err)
    }
}

impl EventRouter<()> {
    /// The sender names routes are for.
    pub(crate) fn senders(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().filter_map(|r| r.sender.as_deref())
    }

    /// The route for an event from `sender` with `key`.
    fn find(&self, sender: &str, key: Option<&RouteKey>) -> Option<&Route<()>> {
        self.routes
            .iter()
            .filter(|r| r.sender.as_deref().is_none_or(|s| s == sender))
            .filter_map(|r| {
                let (rank, length) = r.pattern.rank(key)?;
                Some(((rank, length, r.sender.is_some()), r))
            })
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, route)| route)
    }

    /// Runs the route for `delivery` and says what it came to: [`Handled::Processed`], an
    /// [`Unrouted`] event (answered by the router's [`UnroutedPolicy`]), a payload that does not
    /// fit its route's type ([`Handled::Misfit`]), or the handler's failure. What
    /// [`ReceiverBuilder::router`] and the inbox [`WorkerBuilder::router`] run for each event.
    ///
    /// [`ReceiverBuilder::router`]: crate::receiver::ReceiverBuilder::router
    /// [`WorkerBuilder::router`]: crate::inbox::WorkerBuilder::router
    pub fn run(&self, delivery: Delivery) -> impl Future<Output = Handled> + Send + 'static {
        let routed = Routed { delivery };
        let route = match self.find(routed.delivery.sender(), routed.route_key()) {
            Some(route) => Ok((route.handler)(&routed, &())),
            None => Err(Unrouted {
                event_type: routed.route_key().map(|key| key.as_str().to_owned()),
                acknowledged: self.policy == UnroutedPolicy::Acknowledge,
            }),
        };
        async move {
            match route {
                Ok(handler) => Handled::from_result(handler.await),
                Err(unrouted) => Handled::Unrouted(unrouted),
            }
        }
    }

    /// Runs the route for `delivery`, as a plain handler's result.
    ///
    /// # Errors
    ///
    /// [`Unrouted`] for an event no route takes, [`PayloadError`](crate::error::PayloadError) for a
    /// payload that does not fit its route's type, or the route handler's own error.
    #[deprecated(note = "use `EventRouter::run`, which gives what the event came to as a value")]
    pub fn dispatch(
        &self,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'static {
        let handled = self.run(delivery);
        async move { handled.await.into_result() }
    }
}

impl<S> fmt::Debug for EventRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|r| match &r.sender {
                Some(sender) => format!("{sender}:{}", r.pattern),
                None => r.pattern.to_string(),
            })
            .collect();
        f.debug_struct("EventRouter")
            .field("routes", &routes)
            .field("unrouted", &self.policy)
            .finish_non_exhaustive()
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
