//! A webhook receiver on Axum: every built-in sender on its own route, each event handled once.
//!
//! ```sh
//! cargo run -p verihook-examples          # the default binary: axum_receiver
//! ```
//!
//! * listens on `127.0.0.1:$PORT` (default 3000);
//! * `POST /webhooks/<sender>` for `github`, `stripe`, `standard`, `slack`, `twilio`, `square`,
//!   `shopify`, `gitlab`, `paddle`, `linear`, `zoom` (and `discord` with the `discord` feature);
//! * secrets from `<SENDER>_WEBHOOK_SECRET` (`GITHUB_WEBHOOK_SECRET`, ...), or the demo defaults
//!   in `examples/common/mod.rs` when unset; Twilio and Square sign the URL: `PUBLIC_URL`
//!   (default `http://127.0.0.1:$PORT`) followed by the route;
//! * idempotency in memory, or in Redis when `REDIS_URL` is set (feature `redis`), or in
//!   PostgreSQL when `DATABASE_URL` is set (feature `postgres`): receivers pointed at the same
//!   Redis or database share their dedup state;
//! * prints its routes, its store and a `verihook send` command to try on start-up, then one
//!   log line per request (`processed provider=.. id=.. type=..`, `duplicate provider=.. (..)`,
//!   `rejected provider=.. error=.. (..)`);
//! * a start-up failure (port taken, store unreachable, bad secret) is one `error: ..` line and
//!   exit status 1;
//! * stops on Ctrl-C or SIGTERM after finishing the requests in flight.

mod common;

use std::process::ExitCode;

use common::StartError;

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(run().await)
}

async fn run() -> Result<(), StartError> {
    let port = common::port()?;
    let (receiver, store) = common::receiver().await?;
    let app = common::axum_app(receiver);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| common::bind_error(port, &err))?;
    common::banner("axum", listener.local_addr()?, &store);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    println!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    common::shutdown_signal().await;
    println!("shutting down: finishing requests in flight");
}
