//! How a sender's events are ordered in the inbox: the provider's ordering key, the app's
//! own JSON pointer, or none.

use crate::event::Event;
use crate::ordering::{stamp_of, text, Order};

/// How a sender's events are ordered in the inbox (see
/// [`ReceiverBuilder::ordering`](crate::receiver::ReceiverBuilder::ordering)).
///
/// ```
/// use verihook::inbox::OrderBy;
/// // A declared scheme whose events carry the object under `/object/id` and a version in
/// // `/object/version`:
/// let order = OrderBy::pointer("/object/id").stamp("/object/version");
/// assert!(matches!(order, OrderBy::Pointer { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OrderBy {
    /// The built-in provider's ordering key (Stripe: `data.object.id`; GitHub: the repository
    /// and the issue or pull request number; ...; see the guide's inbox chapter), stamped by
    /// its own time field or the signed timestamp. Senders without one are not ordered.
    #[default]
    Provider,
    /// No ordering: events run as soon as a worker is free.
    Off,
    /// The JSON value at `key` (an RFC 6901 pointer into the signed body) is the ordering key;
    /// the one at `stamp`, when given, its order (a number of seconds or milliseconds since
    /// the epoch, or an RFC 3339 time), else the signed timestamp. An event whose body has no
    /// such value is not ordered.
    Pointer {
        /// The pointer to the ordering key.
        key: String,
        /// The pointer to the event's stamp.
        stamp: Option<String>,
    },
}

impl OrderBy {
    /// Ordered by the value at the JSON pointer `key`.
    #[must_use]
    pub fn pointer(key: impl Into<String>) -> Self {
        Self::Pointer {
            key: key.into(),
            stamp: None,
        }
    }

    /// This ordering stamped by the value at the JSON pointer `stamp`.
    #[must_use]
    pub fn stamp(self, stamp: impl Into<String>) -> Self {
        match self {
            Self::Pointer { key, .. } => Self::Pointer {
                key,
                stamp: Some(stamp.into()),
            },
            other => other,
        }
    }

    /// The ordering key and stamp of `event`, or `None` when it is not ordered.
    pub(crate) fn read(&self, event: &Event) -> Option<Order> {
        // Read from the body only, never from an unsigned header: every scheme covers the body
        // with its signature, except GitLab's, whose bearer token authenticates the whole
        // request (anyone who can alter its body can send any body), and Twilio's form bodies,
        // which are not JSON and so never ordered.
        match self {
            Self::Off => None,
            Self::Provider => {
                let provider = crate::providers::by_scheme(event.scheme())?;
                let (key, stamp) = (provider.ordering)(event)?;
                Some((key, stamp.or_else(|| signed_stamp(event))))
            }
            Self::Pointer { key, stamp } => {
                let body: serde_json::Value = serde_json::from_slice(event.body()).ok()?;
                let ordering_key = text(body.pointer(key)?)?;
                let stamp = stamp
                    .as_deref()
                    .and_then(|pointer| body.pointer(pointer))
                    .and_then(stamp_of)
                    .or_else(|| signed_stamp(event));
                Some((ordering_key, stamp))
            }
        }
    }
}

/// The signed timestamp, in milliseconds.
fn signed_stamp(event: &Event) -> Option<u64> {
    event
        .unix_timestamp()
        .filter(|_| event.signed().timestamp())
        .map(|seconds| seconds.saturating_mul(1000))
}
