//! What both example receivers share: configuration from the environment, the app's handler,
//! and the log lines.
#![allow(dead_code)] // each example uses what it needs

use std::sync::Arc;

use verihook::idempotency::{IdempotencyStore, MemoryStore};
use verihook::{Delivery, GithubVerifier, Outcome, Receiver, StandardVerifier, StripeVerifier};

/// Demo secrets, used when the environment sets none. Never use these in production.
pub(crate) const DEMO_GITHUB_SECRET: &str = "demo-github-secret";
pub(crate) const DEMO_STRIPE_SECRET: &str = "whsec_demo_stripe_secret";
pub(crate) const DEMO_STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The routes and the sender each receives from.
pub(crate) const ROUTES: [(&str, &str); 3] = [
    ("/webhooks/github", "github"),
    ("/webhooks/stripe", "stripe"),
    ("/webhooks/standard", "standard-webhooks"),
];

/// One receiver for the three senders, with secrets from `GITHUB_WEBHOOK_SECRET`,
/// `STRIPE_WEBHOOK_SECRET` and `STANDARD_WEBHOOK_SECRET` (or the demo secrets), and the store
/// chosen by [`store`].
pub(crate) async fn receiver() -> Result<Receiver, Error> {
    Ok(Receiver::builder()
        .sender(
            "github",
            GithubVerifier::new(secret("GITHUB_WEBHOOK_SECRET", DEMO_GITHUB_SECRET))?,
        )
        .sender(
            "stripe",
            StripeVerifier::new(secret("STRIPE_WEBHOOK_SECRET", DEMO_STRIPE_SECRET))?,
        )
        .sender(
            "standard-webhooks",
            StandardVerifier::new(&secret("STANDARD_WEBHOOK_SECRET", DEMO_STANDARD_SECRET))?,
        )
        .store(store().await?)
        .handler(handle)
        .build()?)
}

/// `127.0.0.1:$PORT`, port 3000 unless set.
pub(crate) fn address() -> String {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    format!("127.0.0.1:{port}")
}

/// The app's own handler: runs once per event.
pub(crate) async fn handle(delivery: Delivery) -> Result<(), Error> {
    println!(
        "processed provider={} id={} type={}",
        delivery.sender(),
        delivery.id().as_deref().unwrap_or("-"),
        delivery.event_type().as_deref().unwrap_or("-"),
    );
    Ok(())
}

/// One line per outcome that is not a success (those are logged by [`handle`]).
pub(crate) fn log(provider: &str, outcome: &Outcome) {
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

/// PostgreSQL when `DATABASE_URL` is set, Redis when `REDIS_URL` is, else memory.
pub(crate) async fn store() -> Result<Arc<dyn IdempotencyStore>, Error> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        {
            let store = verihook::idempotency::PostgresStore::connect(&url).await?;
            store.create_table().await?;
            println!("idempotency: PostgreSQL");
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(format!("DATABASE_URL={url} needs --features postgres").into());
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let store = verihook::idempotency::RedisStore::connect(&url).await?;
            println!("idempotency: Redis");
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "redis"))]
        return Err(format!("REDIS_URL={url} needs --features redis").into());
    }
    println!("idempotency: in memory (this process only)");
    Ok(Arc::new(MemoryStore::new()))
}
