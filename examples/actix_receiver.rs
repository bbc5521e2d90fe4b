//! The same webhook receiver on Actix-web: GitHub, Stripe and Standard Webhooks, each event
//! handled once.
//!
//! ```sh
//! cargo run --example actix_receiver --features actix
//! ```
//!
//! Same contract as `axum_receiver`: `127.0.0.1:$PORT` (default 3000); `POST /webhooks/github`,
//! `/webhooks/stripe`, `/webhooks/standard`; secrets from `GITHUB_WEBHOOK_SECRET`,
//! `STRIPE_WEBHOOK_SECRET`, `STANDARD_WEBHOOK_SECRET` (demo defaults when unset); memory, Redis
//! (`REDIS_URL`) or PostgreSQL (`DATABASE_URL`) idempotency; `processed provider=.. id=..
//! type=..` and `rejected provider=.. error=..` log lines; Actix-web finishes requests in flight
//! on Ctrl-C or SIGTERM.

mod common;

use actix_web::{web, App, HttpServer};
use common::Error;
use verihook::actix::Received;
use verihook::idempotency::AnyStore;
use verihook::{Receiver, Verifier};

#[actix_web::main]
async fn main() -> Result<(), Error> {
    let store = common::store().await?;
    let (github, stripe, standard) = common::verifiers()?;
    let github = receiver(github, store.clone());
    let stripe = receiver(stripe, store.clone());
    let standard = receiver(standard, store);

    let address = common::address();
    let server = HttpServer::new(move || {
        App::new()
            .service(route("/webhooks/github", github.clone()))
            .service(route("/webhooks/stripe", stripe.clone()))
            .service(route("/webhooks/standard", standard.clone()))
    })
    .bind(&address)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    server.run().await?;
    println!("stopped");
    Ok(())
}

fn receiver(verifier: impl Verifier + 'static, store: AnyStore) -> web::Data<Receiver<AnyStore>> {
    web::Data::new(
        Receiver::builder()
            .verifier(verifier)
            .store(store)
            .handler(common::handle),
    )
}

/// One route with its own receiver, logging every outcome.
fn route(path: &str, receiver: web::Data<Receiver<AnyStore>>) -> actix_web::Resource {
    let provider = receiver.providers()[0];
    web::resource(path).app_data(receiver).route(web::post().to(
        move |received: Received<AnyStore>| async move {
            common::log(provider, received.outcome());
            received
        },
    ))
}
