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
use verihook::actix::{Received, SenderName};

#[actix_web::main]
async fn main() -> Result<(), Error> {
    let receiver = web::Data::new(common::receiver().await?);
    let address = common::address();
    let server = HttpServer::new(move || {
        let mut app = App::new().app_data(receiver.clone());
        for (path, sender) in common::ROUTES {
            app = app.service(web::resource(path).app_data(SenderName::new(sender)).route(
                web::post().to(move |received: Received| async move {
                    common::log(sender, received.outcome());
                    received
                }),
            ));
        }
        app
    })
    .bind(&address)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    server.run().await?;
    println!("stopped");
    Ok(())
}
