//! The server `scripts/load.sh` measures: one Axum app with three routes per scheme (`github`,
//! `stripe` and `standard`, as `{scheme}` below) on the same body. `examples/load_client.rs`
//! signs the requests with the same secrets.
//!
//! * `POST /webhooks/{scheme}`: the full pipeline (verify, dedup, a no-op handler); the store is
//!   `MemoryStore::preallocated(2_000_000)` (steady state: its tables allocated and their pages
//!   touched at start-up), or, with `STORE=lazy`, `MemoryStore::with_capacity` (first touch:
//!   tables grow and pages fault in on the request path); with `STORE=redis` (and the `redis`
//!   feature) a `RedisStore` at `REDIS_URL` under the prefix `verihook-load:`, with
//!   `STORE=postgres` (and the `postgres` feature) a `PostgresStore` at `DATABASE_URL` in the
//!   table `verihook_load`, emptied at start-up;
//! * `POST /verified/{scheme}`: verifies only (no idempotency store), answers 200;
//! * `POST /unverified/{scheme}`: reads the same body and answers 200, verifying nothing.
//!
//! ```sh
//! cargo run --release -p verihook-examples --bin load_target   # listens on 127.0.0.1:$PORT (3000)
//! ```

use std::sync::Arc;

use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use verihook::axum::{receive, SenderName, Webhook, WebhookVerifier};
use verihook::idempotency::{IdempotencyStore, MemoryStore};
use verihook::providers::{
    github::GithubVerifier, standard::StandardVerifier, stripe::StripeVerifier,
};
use verihook::Receiver;

/// The secrets `scripts/load.sh` signs with.
const SECRET: &str = "load-test-github-secret";
const STRIPE_SECRET: &str = "whsec_load_test_stripe_secret";
const STANDARD_SECRET: &str = "whsec_bG9hZC10ZXN0LXN0YW5kYXJkLXNlY3JldA==";

/// The Standard Webhooks verifier: `scripts/load.sh` signs all its requests at start-up, and a
/// run of several rounds lasts longer than the default 5-minute tolerance.
fn standard() -> Result<StandardVerifier, verihook::VerifyError> {
    Ok(
        StandardVerifier::new(STANDARD_SECRET)?
            .with_tolerance(std::time::Duration::from_secs(3600)),
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Failures only (and only with the `tracing` feature): a line per processed request would
    // be what the load test measures.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_target(false)
        .try_init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line, never a Debug dump.
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves with the store `STORE` names (`lazy`, `redis`, `postgres`, or `preallocated`, the
/// default). Each store is its own type in the receiver, as in an app, not one behind a box.
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let url = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    match std::env::var("STORE").as_deref() {
        Ok("lazy") => serve(MemoryStore::with_capacity(2_000_000)).await,
        #[cfg(feature = "redis")]
        Ok("redis") => {
            let redis = url("REDIS_URL", "redis://127.0.0.1:6379");
            let store = verihook::idempotency::RedisStore::connect(&redis).await?;
            serve(store.with_prefix("verihook-load:")).await
        }
        #[cfg(feature = "postgres")]
        Ok("postgres") => {
            let database = url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
            let store = verihook::idempotency::PostgresStore::connect(&database)
                .await?
                .with_table("verihook_load")?;
            store.create_table().await?;
            // Each run starts empty, as each memory-store run does.
            sqlx::query("TRUNCATE verihook_load")
                .execute(store.pool())
                .await?;
            serve(store).await
        }
        Ok("preallocated") | Err(_) => serve(MemoryStore::preallocated(2_000_000)).await,
        Ok(other) => {
            let _ = url;
            Err(format!("STORE={other}: not a store this build has").into())
        }
    }
}

async fn serve(store: impl IdempotencyStore + 'static) -> Result<(), Box<dyn std::error::Error>> {
    let receiver = Arc::new(
        Receiver::builder()
            .verifier(GithubVerifier::new(SECRET)?)
            .sender("standard", standard()?)
            .sender("stripe", StripeVerifier::new(STRIPE_SECRET)?)
            .store(store)
            .handler(|_delivery| async { Ok(()) })
            .build()?,
    );
    let app = Router::new()
        .route(
            "/webhooks/github",
            post(receive).layer(Extension(SenderName::new("github"))),
        )
        .route(
            "/webhooks/standard",
            post(receive).layer(Extension(SenderName::new("standard"))),
        )
        .route(
            "/webhooks/stripe",
            post(receive).layer(Extension(SenderName::new("stripe"))),
        )
        .with_state(receiver)
        .route(
            "/verified/stripe",
            post(|Webhook(event): Webhook| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, event.body().len())
            })
            .with_state(WebhookVerifier::new(StripeVerifier::new(STRIPE_SECRET)?)),
        )
        .route(
            "/unverified/stripe",
            post(|body: Bytes| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, body.len())
            }),
        )
        .route(
            "/verified/standard",
            post(|Webhook(event): Webhook| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, event.body().len())
            })
            .with_state(WebhookVerifier::new(standard()?)),
        )
        .route(
            "/unverified/standard",
            post(|body: Bytes| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, body.len())
            }),
        )
        .route(
            "/verified/github",
            post(|Webhook(event): Webhook| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, event.body().len())
            })
            .with_state(WebhookVerifier::new(GithubVerifier::new(SECRET)?)),
        )
        .route(
            "/unverified/github",
            post(|body: Bytes| async move {
                format!(r#"{{"outcome":"accepted","bytes":{}}}"#, body.len())
            }),
        );
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1:{port} (PORT={port}): {err}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}
