//! The server `scripts/load.sh` measures: one Axum app with three routes on the same body.
//!
//! * `POST /webhooks/github`: the full pipeline (verify, memory-store dedup, a no-op handler);
//!   the store is `MemoryStore::preallocated(2_000_000)` (steady state: its tables allocated and
//!   their pages touched at start-up), or, with `STORE=lazy`, `MemoryStore::with_capacity`
//!   (first touch: tables grow and pages fault in on the request path);
//! * `POST /verified/github`: verifies only (no idempotency store), answers 200;
//! * `POST /unverified/github`: reads the same body and answers 200, verifying nothing.
//!
//! ```sh
//! cargo run --release --example load_target --features axum   # listens on 127.0.0.1:$PORT (3000)
//! ```

use std::sync::Arc;

use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use verihook::axum::{receive, Webhook, WebhookVerifier};
use verihook::idempotency::MemoryStore;
use verihook::{GithubVerifier, Receiver};

/// The store `STORE` asks for (`lazy`, or preallocated by default).
fn store() -> MemoryStore {
    match std::env::var("STORE").as_deref() {
        Ok("lazy") => MemoryStore::with_capacity(2_000_000),
        _ => MemoryStore::preallocated(2_000_000),
    }
}

/// The secret `scripts/load.sh` signs with.
const SECRET: &str = "load-test-github-secret";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let receiver = Arc::new(
        Receiver::builder()
            .verifier(GithubVerifier::new(SECRET)?)
            .store(store())
            .handler(|_delivery| async { Ok::<(), std::io::Error>(()) })
            .build()?,
    );
    let app = Router::new()
        .route("/webhooks/github", post(receive))
        .with_state(receiver)
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
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
