//! The Axum receiver, operated: request guards on every sender's route and its metrics served
//! in the Prometheus format.
//!
//! ```sh
//! cargo run -p verihook-examples --bin prometheus --features guard,metrics
//! curl -s http://127.0.0.1:3000/metrics
//! ```
//!
//! * the routes, secrets and log lines of `axum_receiver` (see its docs);
//! * every sender's route is rate limited per source address: `RATE_PER_SECOND` (default 20)
//!   with a burst of `RATE_BURST` (default 50), answered `429` with `Retry-After` beyond it;
//! * GitHub's route only accepts GitHub's hook addresses when `GITHUB_META_FILE` names a saved
//!   copy of `https://api.github.com/meta` (the app fetches it; verihook only reads it);
//! * `TRUSTED_PROXIES` (CIDR list) names the load balancers in front of the app, and
//!   `TRUSTED_PROXY_HEADER` the one header they append the client's address to:
//!   `x-forwarded-for` (the default; nginx, HAProxy, AWS ALB) or `forwarded` (RFC 7239). The
//!   other header is ignored; with no `TRUSTED_PROXIES`, both are;
//! * `GET /metrics` answers every `verihook_*` metric (the README's "Metrics" table), recorded
//!   through the `metrics` facade into `metrics-exporter-prometheus`.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::routing::get;
use common::StartError;
use metrics_exporter_prometheus::PrometheusBuilder;
use verihook::guard::{Guard, GuardLayer, IpAllowlist, IpRanges, RateLimit, TrustedProxies};

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    common::exit(run().await)
}

async fn run() -> Result<(), StartError> {
    let port = common::port()?;
    let metrics = PrometheusBuilder::new().install_recorder().map_err(|err| {
        StartError::from_message(format!("cannot install the metrics recorder: {err}"))
    })?;
    let (receiver, store) = common::receiver().await?;
    let rate = number("RATE_PER_SECOND", 20)?;
    let burst = number("RATE_BURST", 50)?;
    let proxies = match std::env::var("TRUSTED_PROXIES") {
        Ok(list) => {
            let ranges = IpRanges::parse(&list)
                .map_err(|err| StartError::from_message(format!("TRUSTED_PROXIES: {err}")))?;
            match std::env::var("TRUSTED_PROXY_HEADER").as_deref() {
                Err(_) | Ok("x-forwarded-for") => TrustedProxies::x_forwarded_for(ranges),
                Ok("forwarded") => TrustedProxies::forwarded(ranges),
                Ok(other) => {
                    return Err(StartError::from_message(format!(
                        "TRUSTED_PROXY_HEADER={other:?}: expected x-forwarded-for or forwarded"
                    )))
                }
            }
        }
        Err(_) => TrustedProxies::default(),
    };
    let github_hooks = match std::env::var("GITHUB_META_FILE") {
        Ok(path) => {
            let meta = std::fs::read_to_string(&path).map_err(|err| {
                StartError::from_message(format!("GITHUB_META_FILE={path}: {err}"))
            })?;
            Some(IpAllowlist::from_github_meta(&meta).map_err(|err| {
                StartError::from_message(format!("GITHUB_META_FILE={path}: {err}"))
            })?)
        }
        Err(_) => None,
    };
    let app = common::axum_routes(receiver, |sender, route| {
        let mut guard = Guard::new(sender)
            .trust_proxies(proxies.clone())
            .rate_limit(RateLimit::per_second(rate).burst(burst));
        if let (Some(hooks), "github") = (&github_hooks, sender) {
            guard = guard.allow(hooks.clone());
        }
        route.layer(GuardLayer::new(guard))
    })
    .route("/metrics", get(move || async move { metrics.render() }));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| common::bind_error(port, &err))?;
    common::banner("axum", listener.local_addr()?, &store);
    println!(
        "guards: {rate}/s per source (burst {burst}) on every route{}; metrics: GET /metrics",
        if github_hooks.is_some() {
            ", GitHub's hook addresses only on /webhooks/github"
        } else {
            ""
        }
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(common::shutdown_signal())
    .await?;
    println!("stopped");
    Ok(())
}

/// A positive number from the variable `name`, or `default`.
fn number(name: &str, default: u32) -> Result<u32, StartError> {
    match std::env::var(name) {
        Ok(text) => text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            StartError::from_message(format!("{name}={text:?} is not a positive number"))
        }),
        Err(_) => Ok(default),
    }
}
