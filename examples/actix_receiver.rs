//! The same webhook receiver on Actix-web: every built-in sender on its own route, each event
//! handled once.
//!
//! ```sh
//! cargo run -p verihook-examples --bin actix_receiver --features actix
//! ```
//!
//! Same contract as `axum_receiver`: `127.0.0.1:$PORT` (default 3000); `POST /webhooks/<sender>`
//! for every built-in sender, secrets from `<SENDER>_WEBHOOK_SECRET` (demo defaults when unset,
//! `PUBLIC_URL` for Twilio and Square); memory, Redis
//! (`REDIS_URL`) or PostgreSQL (`DATABASE_URL`) idempotency; the same start-up banner, log lines
//! and one-line start-up errors; Actix-web finishes requests in flight on Ctrl-C or SIGTERM.

mod common;

use std::process::ExitCode;

use actix_web::{web, App, HttpServer};
use common::StartError;
use verihook::actix::{Received, SenderName};

#[actix_web::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(run().await)
}

async fn run() -> Result<(), StartError> {
    let port = common::port()?;
    let (receiver, store) = common::receiver().await?;
    let receiver = web::Data::new(receiver);
    let server = HttpServer::new(move || {
        let mut app = App::new().app_data(receiver.clone());
        for route in common::ROUTES {
            let sender = route.sender;
            app = app.service(
                web::resource(route.path)
                    .app_data(SenderName::new(sender))
                    .route(web::post().to(move |received: Received| async move {
                        common::log(sender, received.outcome());
                        received
                    })),
            );
        }
        app
    })
    .bind(("127.0.0.1", port))
    .map_err(|err| common::bind_error(port, &err))?;
    for bound in server.addrs() {
        common::banner("actix-web", bound, &store);
    }
    server.run().await?;
    println!("stopped");
    Ok(())
}
