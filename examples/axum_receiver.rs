//! A webhook receiver on Axum: GitHub, Stripe and Standard Webhooks, each event handled once.
//!
//! ```sh
//! cargo run --example axum_receiver --features axum
//! ```
//!
//! * listens on `127.0.0.1:$PORT` (default 3000);
//! * `POST /webhooks/github`, `POST /webhooks/stripe`, `POST /webhooks/standard`;
//! * secrets from `GITHUB_WEBHOOK_SECRET`, `STRIPE_WEBHOOK_SECRET` and `STANDARD_WEBHOOK_SECRET`,
//!   or the demo defaults below when unset;
//! * idempotency in memory, or in Redis when `REDIS_URL` is set (feature `redis`), or in
//!   PostgreSQL when `DATABASE_URL` is set (feature `postgres`): receivers pointed at the same
//!   Redis or database share their dedup state;
//! * one log line per processed event (`processed provider=.. id=.. type=..`) and per rejection
//!   (`rejected provider=.. error=..`);
//! * stops on Ctrl-C or SIGTERM after finishing the requests in flight.

use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use verihook::axum::Received;
use verihook::idempotency::{AnyStore, MemoryStore};
use verihook::{
    Delivery, GithubVerifier, Outcome, Provider, Receiver, StandardVerifier, StripeVerifier,
    Verifier,
};

/// Demo secrets, used when the environment sets none. Never use these in production.
const DEMO_GITHUB_SECRET: &str = "demo-github-secret";
const DEMO_STRIPE_SECRET: &str = "whsec_demo_stripe_secret";
const DEMO_STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = store().await?;
    let github = GithubVerifier::new(secret("GITHUB_WEBHOOK_SECRET", DEMO_GITHUB_SECRET))?;
    let stripe = StripeVerifier::new(secret("STRIPE_WEBHOOK_SECRET", DEMO_STRIPE_SECRET))?;
    let standard = StandardVerifier::new(&secret("STANDARD_WEBHOOK_SECRET", DEMO_STANDARD_SECRET))?;

    let app = Router::new()
        .merge(route("/webhooks/github", github, store.clone()))
        .merge(route("/webhooks/stripe", stripe, store.clone()))
        .merge(route("/webhooks/standard", standard, store));

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    println!("stopped");
    Ok(())
}

/// One route: a receiver with one verifier, logging every outcome that is not a success.
fn route(path: &str, verifier: impl Verifier + 'static, store: AnyStore) -> Router {
    let provider = verifier.provider();
    let receiver = Arc::new(
        Receiver::builder()
            .verifier(verifier)
            .store(store)
            .handler(handle),
    );
    Router::new()
        .route(
            path,
            post(move |received: Received<AnyStore>| async move {
                log(provider, received.outcome());
                received
            }),
        )
        .with_state(receiver)
}

/// The app's own handler: runs once per event.
async fn handle(delivery: Delivery) -> Result<(), Error> {
    println!(
        "processed provider={} id={} type={}",
        delivery.provider(),
        delivery.id().as_deref().unwrap_or("-"),
        delivery.event_type().as_deref().unwrap_or("-"),
    );
    Ok(())
}

fn log(provider: Provider, outcome: &Outcome) {
    match outcome {
        Outcome::Processed { .. } => {}
        Outcome::Rejected(err) => {
            println!("rejected provider={provider} error={} ({err})", err.code());
        }
        other => println!("{} provider={provider} ({other})", other.code()),
    }
}

fn secret(variable: &str, demo: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        eprintln!("{variable} is not set: using the demo secret");
        demo.to_owned()
    })
}

async fn store() -> Result<AnyStore, Error> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        {
            let store = verihook::idempotency::PostgresStore::connect(&url).await?;
            store.create_table().await?;
            println!("idempotency: PostgreSQL");
            return Ok(store.into());
        }
        #[cfg(not(feature = "postgres"))]
        return Err(format!("DATABASE_URL={url} needs --features postgres").into());
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let store = verihook::idempotency::RedisStore::connect(&url).await?;
            println!("idempotency: Redis");
            return Ok(store.into());
        }
        #[cfg(not(feature = "redis"))]
        return Err(format!("REDIS_URL={url} needs --features redis").into());
    }
    println!("idempotency: in memory (this process only)");
    Ok(MemoryStore::new().into())
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
