//! A webhook receiver on Axum: GitHub, Stripe and Standard Webhooks, each event handled once.
//!
//! ```sh
//! cargo run --example axum_receiver --features axum
//! ```
//!
//! * listens on `127.0.0.1:$PORT` (default 3000);
//! * `POST /webhooks/github`, `POST /webhooks/stripe`, `POST /webhooks/standard`;
//! * secrets from `GITHUB_WEBHOOK_SECRET`, `STRIPE_WEBHOOK_SECRET` and `STANDARD_WEBHOOK_SECRET`,
//!   or the demo defaults in `examples/common/mod.rs` when unset;
//! * idempotency in memory, or in Redis when `REDIS_URL` is set (feature `redis`), or in
//!   PostgreSQL when `DATABASE_URL` is set (feature `postgres`): receivers pointed at the same
//!   Redis or database share their dedup state;
//! * one log line per processed event (`processed provider=.. id=.. type=..`) and per rejection
//!   (`rejected provider=.. error=..`);
//! * stops on Ctrl-C or SIGTERM after finishing the requests in flight.

mod common;

use std::sync::Arc;

use axum::routing::post;
use axum::{Extension, Router};
use common::Error;
use verihook::axum::{Received, SenderName};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let receiver = Arc::new(common::receiver().await?);
    let mut app = Router::new();
    for (path, sender) in common::ROUTES {
        app = app.route(
            path,
            post(move |received: Received| async move {
                common::log(sender, received.outcome());
                received
            })
            .layer(Extension(SenderName::new(sender))),
        );
    }
    let app = app.with_state(receiver);

    let listener = tokio::net::TcpListener::bind(common::address()).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    println!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    println!("shutting down: finishing requests in flight");
}
