//! The guide: how to receive webhooks with verihook, one chapter per task.
//!
//! Every Rust example in it is a whole program (a `main` or a test) preceded by the
//! `[dependencies]` it needs, and is compiled (`scripts/guide-check.py` builds each in a crate
//! of its own). Chapters whose examples need a feature are shown with it.
//!
//! * [Tour](tour): the demo receiver and the `verihook` command-line tool.
//! * [Routing](routing): one typed handler per event type, tested without HTTP.
//! * [Exactly once](exactly_once): idempotency stores in memory, Redis or PostgreSQL.
//! * [Inbox](inbox): acknowledge at once, process later with retries and dead letters.
//! * [Forwarding](forward): verified events onto NATS JetStream, RabbitMQ or your own broker.
//! * [Frameworks](frameworks): Axum and Actix-web.
//! * [Schemes](schemes): the built-in senders, declared senders, your own `Scheme`, CloudEvents.
//! * [Diagnosis](diagnosis): why a signature does not match; `verihook listen`.
//! * [Guards](guards): IP allowlists, trusted proxies and rate limits.
//! * [Metrics and tracing](observability).
//! * [Security notes](security).
//! * [Error codes](errors): every outcome, rejection, guard and diagnosis code.

#[doc = include_str!("../docs/tour.md")]
pub mod tour {}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[doc = include_str!("../docs/routing.md")]
pub mod routing {}

#[cfg(all(feature = "redis", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "redis", feature = "postgres"))))]
#[doc = include_str!("../docs/exactly-once.md")]
pub mod exactly_once {}

#[cfg(all(feature = "inbox", feature = "postgres", feature = "axum"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "inbox", feature = "postgres", feature = "axum")))
)]
#[doc = include_str!("../docs/inbox.md")]
pub mod inbox {}

#[cfg(all(
    feature = "inbox",
    feature = "postgres",
    feature = "axum",
    feature = "nats",
    feature = "amqp"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(
        feature = "postgres",
        feature = "axum",
        feature = "nats",
        feature = "amqp"
    )))
)]
#[doc = include_str!("../docs/forward.md")]
pub mod forward {}

#[cfg(all(feature = "axum", feature = "actix"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "actix"))))]
#[doc = include_str!("../docs/frameworks.md")]
pub mod frameworks {}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[doc = include_str!("../docs/schemes.md")]
pub mod schemes {}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[doc = include_str!("../docs/diagnosis.md")]
pub mod diagnosis {}

#[cfg(all(feature = "guard", feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "guard", feature = "axum"))))]
#[doc = include_str!("../docs/guards.md")]
pub mod guards {}

#[cfg(all(
    feature = "tracing",
    feature = "metrics",
    feature = "axum",
    feature = "testing"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(
        feature = "tracing",
        feature = "metrics",
        feature = "axum",
        feature = "testing"
    )))
)]
#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/security.md")]
pub mod security {}

#[doc = include_str!("../docs/errors.md")]
pub mod errors {}
