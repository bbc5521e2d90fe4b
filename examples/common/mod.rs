//! What both example receivers share: configuration from the environment, the app's handler,
//! the start-up banner, start-up errors, and the log lines.
#![allow(dead_code)] // each example uses what it needs

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use verihook::envelope::{
    Form, GithubEvent, GitlabEvent, LinearEvent, PaddleEvent, ShopifyEvent, SlackEvent,
    SquareEvent, StandardEvent, StripeEvent, ZoomEvent,
};
use verihook::idempotency::{IdempotencyStore, MemoryStore};
use verihook::{receiver::ReceiverBuilder, Delivery, EventRouter, HandlerError, Outcome, Receiver};

/// Demo secrets, used when the environment sets none. Never use these in production.
pub(crate) const DEMO_GITHUB_SECRET: &str = "demo-github-secret";
pub(crate) const DEMO_STRIPE_SECRET: &str = "whsec_demo_stripe_secret";
pub(crate) const DEMO_STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One route: its path, the sender it receives from, the `verihook send --provider` name, the
/// variable holding its secret and the demo secret used when the variable is unset.
pub(crate) struct Route {
    pub(crate) path: &'static str,
    pub(crate) sender: &'static str,
    pub(crate) provider: &'static str,
    pub(crate) variable: &'static str,
    pub(crate) demo_secret: &'static str,
}

/// The routes and the sender each receives from: one per built-in sender (Discord's with the
/// `discord` feature).
pub(crate) const ROUTES: &[Route] = &[
    route(
        "github",
        "github",
        "GITHUB_WEBHOOK_SECRET",
        DEMO_GITHUB_SECRET,
    ),
    route(
        "stripe",
        "stripe",
        "STRIPE_WEBHOOK_SECRET",
        DEMO_STRIPE_SECRET,
    ),
    Route {
        path: "/webhooks/standard",
        sender: "standard-webhooks",
        provider: "standard-webhooks",
        variable: "STANDARD_WEBHOOK_SECRET",
        demo_secret: DEMO_STANDARD_SECRET,
    },
    route(
        "slack",
        "slack",
        "SLACK_WEBHOOK_SECRET",
        "demo-slack-signing-secret",
    ),
    route(
        "twilio",
        "twilio",
        "TWILIO_WEBHOOK_SECRET",
        "demo-twilio-auth-token",
    ),
    route(
        "square",
        "square",
        "SQUARE_WEBHOOK_SECRET",
        "demo-square-signature-key",
    ),
    route(
        "shopify",
        "shopify",
        "SHOPIFY_WEBHOOK_SECRET",
        "demo-shopify-client-secret",
    ),
    route(
        "gitlab",
        "gitlab",
        "GITLAB_WEBHOOK_SECRET",
        "demo-gitlab-secret-token",
    ),
    route(
        "paddle",
        "paddle",
        "PADDLE_WEBHOOK_SECRET",
        "pdl_ntfset_demo_secret_key",
    ),
    route(
        "linear",
        "linear",
        "LINEAR_WEBHOOK_SECRET",
        "lin_wh_demo_signing_secret",
    ),
    route(
        "zoom",
        "zoom",
        "ZOOM_WEBHOOK_SECRET",
        "demo-zoom-secret-token",
    ),
    // Discord signs with its private key; the demo verifies with RFC 8032's first test key.
    #[cfg(feature = "discord")]
    route(
        "discord",
        "discord",
        "DISCORD_WEBHOOK_SECRET",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
];

/// `/webhooks/<sender>` for `sender`, the `send --provider` name `provider`.
const fn route(
    sender: &'static str,
    provider: &'static str,
    variable: &'static str,
    demo_secret: &'static str,
) -> Route {
    Route {
        path: match sender.as_bytes() {
            b"github" => "/webhooks/github",
            b"stripe" => "/webhooks/stripe",
            b"slack" => "/webhooks/slack",
            b"twilio" => "/webhooks/twilio",
            b"square" => "/webhooks/square",
            b"shopify" => "/webhooks/shopify",
            b"gitlab" => "/webhooks/gitlab",
            b"paddle" => "/webhooks/paddle",
            b"linear" => "/webhooks/linear",
            b"zoom" => "/webhooks/zoom",
            _ => "/webhooks/discord",
        },
        sender,
        provider,
        variable,
        demo_secret,
    }
}

/// A start-up failure, as one line that names what to change.
#[derive(Debug)]
pub(crate) struct StartError(String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StartError {
    /// A start-up failure described in words.
    pub(crate) fn from_message(message: String) -> Self {
        Self(message)
    }
}

impl<E: std::error::Error> From<E> for StartError {
    fn from(err: E) -> Self {
        Self(err.to_string())
    }
}

/// Prints a start-up failure as one line and gives the exit status.
pub(crate) fn exit(result: Result<(), StartError>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One receiver for every sender of [`ROUTES`] (secrets from `<NAME>_WEBHOOK_SECRET`, or the
/// demo secrets), with the store chosen by [`store`]; with the store's description.
pub(crate) async fn receiver() -> Result<(Receiver, String), StartError> {
    let (store, described) = store().await?;
    let receiver = with_senders(Receiver::builder())?
        .store(store)
        .router(router())
        .build()?;
    Ok((receiver, described))
}

/// Every sender of [`ROUTES`], with secrets from `<NAME>_WEBHOOK_SECRET` (or the demo secrets);
/// Twilio and Square sign the URL, taken as `PUBLIC_URL` (default `http://127.0.0.1:$PORT`)
/// followed by the route's path.
pub(crate) fn with_senders(mut builder: ReceiverBuilder) -> Result<ReceiverBuilder, StartError> {
    let public = public_url()?;
    for route in ROUTES {
        let builtin = verihook::providers::find(route.provider)
            .ok_or_else(|| StartError(format!("{} is not a built-in scheme", route.provider)))?;
        let url = format!("{public}{}", route.path);
        let secrets = secrets(route)?;
        let texts: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let scheme = builtin
            .build(
                &texts,
                builtin.signs_url.then_some(url.as_str()),
                verihook::scheme::VerifyOptions::default(),
            )
            .map_err(|err| StartError(format!("{}: {err}", route.variable)))?;
        builder = builder.sender(route.sender, scheme);
    }
    Ok(builder)
}

/// Where the senders that sign the URL post to: `PUBLIC_URL` without a trailing `/`, else
/// this receiver on 127.0.0.1.
pub(crate) fn public_url() -> Result<String, StartError> {
    match std::env::var("PUBLIC_URL") {
        Ok(url) => Ok(url.trim_end_matches('/').to_owned()),
        Err(_) => Ok(format!("http://127.0.0.1:{}", port()?)),
    }
}

/// The port from `PORT` (default 3000).
pub(crate) fn port() -> Result<u16, StartError> {
    match std::env::var("PORT") {
        Err(std::env::VarError::NotPresent) => Ok(3000),
        Ok(text) => text
            .parse()
            .map_err(|_| StartError(format!("PORT={text:?} is not a port number (1 to 65535)"))),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(StartError("PORT is not a port number (1 to 65535)".into()))
        }
    }
}

/// Why the listener could not be opened, naming the address and the variable that moves it.
pub(crate) fn bind_error(port: u16, err: &std::io::Error) -> StartError {
    let hint = match err.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another program listens there: stop it, or set PORT to a free port)"
        }
        std::io::ErrorKind::PermissionDenied => " (set PORT to a port above 1023)",
        _ => "",
    };
    StartError(format!(
        "cannot listen on 127.0.0.1:{port} (PORT={port}): {err}{hint}"
    ))
}

/// Prints the routes, the store and a `verihook send` command to paste into another terminal.
pub(crate) fn banner(framework: &str, address: std::net::SocketAddr, store: &str) {
    println!("verihook demo receiver ({framework}) listening on http://{address}");
    routes_and_try(address, &format!("idempotency: {store}"));
}

/// The routes, `store_line`, and a `verihook send` command to try.
pub(crate) fn routes_and_try(address: std::net::SocketAddr, store_line: &str) {
    for route in ROUTES {
        let from = match std::env::var(route.variable) {
            Ok(_) => route.variable.to_owned(),
            Err(_) => format!(
                "{demo} (the demo secret, {variable} unset)",
                demo = route.demo_secret,
                variable = route.variable
            ),
        };
        println!(
            "  POST {:<20} sender {:<18} secret: {from}",
            route.path, route.sender
        );
    }
    println!("{store_line}");
    let stripe = &ROUTES[1];
    let secret = match std::env::var(stripe.variable) {
        Ok(_) => format!("\"${}\"", stripe.variable),
        Err(_) => stripe.demo_secret.to_owned(),
    };
    println!("try, from another terminal (the first run builds the CLI, about a minute):");
    println!(
        "  cargo run -p verihook-cli -- send --provider {} --secret {secret} --url http://{address}{} --id evt_demo_1 --repeat 2",
        stripe.provider, stripe.path
    );
}

/// The app's routes: a few real event types per sender, each handler taking its payload as
/// the app's own type. Any other type is acknowledged (`200 unrouted`) and logged, so that a
/// provider adding event types never sees failures.
pub(crate) fn router() -> EventRouter {
    let router = EventRouter::new()
        .route_for("github", "push", github_push)
        .route_for("github", "pull_request.opened", pull_request_opened)
        .route_for("stripe", "invoice.paid", invoice_paid)
        .route_for("stripe", "payment_intent.succeeded", payment_succeeded)
        .route_for(
            "standard-webhooks",
            "invoice.*",
            |d: Delivery, e: StandardEvent<Value>| processed(d, format!("data={}", e.data)),
        )
        .route_for(
            "standard-webhooks",
            "user.*",
            |d: Delivery, e: StandardEvent<Value>| processed(d, format!("data={}", e.data)),
        )
        .route_for(
            "slack",
            "app_mention",
            |d: Delivery, e: SlackEvent<SlackMessage>| {
                processed(d, format!("text={:?}", e.event.text))
            },
        )
        .route_for("twilio", "*", |d: Delivery, Form(sms): Form<Sms>| {
            processed(d, format!("from={} body={:?}", sms.from, sms.body))
        })
        .route_for(
            "square",
            "payment.*",
            |d: Delivery, e: SquareEvent<Value>| processed(d, format!("object={}", e.object_id)),
        )
        .route_for(
            "shopify",
            "orders/create",
            |d: Delivery, e: ShopifyEvent<Order>| {
                processed(
                    d,
                    format!("order={} total={}", e.payload.id, e.payload.total_price),
                )
            },
        )
        .route_for(
            "gitlab",
            "push",
            |d: Delivery, e: GitlabEvent<GitlabPush>| {
                processed(d, format!("ref={}", e.payload.reference))
            },
        )
        .route_for(
            "paddle",
            "transaction.*",
            |d: Delivery, e: PaddleEvent<Value>| processed(d, format!("event={}", e.event_id)),
        )
        .route_for("linear", "Issue", |d: Delivery, e: LinearEvent<Value>| {
            processed(d, format!("action={}", e.action))
        })
        .route_for("zoom", "meeting.*", |d: Delivery, e: ZoomEvent<Value>| {
            processed(d, format!("event={}", e.event))
        });
    #[cfg(feature = "discord")]
    let router = router.route_for(
        "discord",
        "application_command",
        |d: Delivery, e: verihook::envelope::DiscordInteraction<Value>| {
            processed(d, format!("interaction={}", e.id))
        },
    );
    router
}

/// The part of a GitHub `push` this app uses.
#[derive(Deserialize)]
pub(crate) struct Push {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
}

async fn github_push(delivery: Delivery, event: GithubEvent<Push>) -> Result<(), HandlerError> {
    let Push { reference, after } = event.payload;
    processed(delivery, format!("ref={reference} after={after}")).await
}

/// The part of a GitHub `pull_request` event this app uses.
#[derive(Deserialize)]
pub(crate) struct PullRequestEvent {
    number: u64,
    pull_request: PullRequest,
}

#[derive(Deserialize)]
pub(crate) struct PullRequest {
    title: String,
}

async fn pull_request_opened(
    delivery: Delivery,
    event: GithubEvent<PullRequestEvent>,
) -> Result<(), HandlerError> {
    let PullRequestEvent {
        number,
        pull_request,
    } = event.payload;
    processed(delivery, format!("#{number} {:?}", pull_request.title)).await
}

/// The part of a Stripe invoice this app uses.
#[derive(Deserialize)]
pub(crate) struct Invoice {
    id: String,
    amount_paid: u64,
}

async fn invoice_paid(delivery: Delivery, event: StripeEvent<Invoice>) -> Result<(), HandlerError> {
    let Invoice { id, amount_paid } = event.object;
    processed(delivery, format!("invoice={id} amount_paid={amount_paid}")).await
}

/// The part of a Stripe payment intent this app uses.
#[derive(Deserialize)]
pub(crate) struct PaymentIntent {
    id: String,
    amount: u64,
}

async fn payment_succeeded(
    delivery: Delivery,
    event: StripeEvent<PaymentIntent>,
) -> Result<(), HandlerError> {
    let PaymentIntent { id, amount } = event.object;
    processed(delivery, format!("payment_intent={id} amount={amount}")).await
}

#[derive(Deserialize)]
pub(crate) struct SlackMessage {
    text: String,
}

/// Twilio's incoming message parameters this app uses.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Sms {
    from: String,
    body: String,
}

#[derive(Deserialize)]
pub(crate) struct Order {
    id: u64,
    total_price: String,
}

#[derive(Deserialize)]
pub(crate) struct GitlabPush {
    #[serde(rename = "ref")]
    reference: String,
}

/// The line each handler logs: `processed provider=<sender> id=<id> type=<type>`, then what it
/// read from the typed payload.
async fn processed(delivery: Delivery, detail: String) -> Result<(), HandlerError> {
    println!(
        "processed provider={} id={} type={} {detail}",
        delivery.sender(),
        delivery.id().as_deref().unwrap_or("-"),
        delivery.event_type().as_deref().unwrap_or("-"),
    );
    Ok(())
}

/// Logs through `tracing` to stdout, one line per event, at the level `RUST_LOG` names
/// (`error`, `warn`, `info`, `debug` or `trace`; `warn` when unset or not a level: per-target
/// filters need tracing-subscriber's `env-filter`). With the `tracing` feature, verihook logs
/// every request it refuses or fails to handle in one line naming the sender
/// (`WARN ... webhook rejected sender="stripe" code="bad_signature" status=401 error=...`);
/// `RUST_LOG=info` adds a line for every request.
pub(crate) fn init_logging() {
    use std::io::IsTerminal as _;
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::WARN);
    // A second subscriber (none here) would be refused, not replace the first.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}

/// One line per request that did not reach the handler (the handler logs those it processes).
/// With the `tracing` feature, verihook logs the failures itself (through the subscriber
/// [`init_logging`] installed): they are not printed twice.
pub(crate) fn log(sender: &str, outcome: &Outcome) {
    let failed = matches!(
        outcome,
        Outcome::Rejected(_)
            | Outcome::HandlerFailed { .. }
            | Outcome::StoreUnavailable(_)
            | Outcome::Unrouted { .. }
            | Outcome::NoRoute { .. }
            | Outcome::InvalidPayload { .. }
    );
    if cfg!(feature = "tracing") && failed {
        return;
    }
    match outcome {
        Outcome::Processed { .. } => {}
        Outcome::Rejected(err) => {
            println!("rejected provider={sender} error={} ({err})", err.code());
        }
        other => println!("{} provider={sender} ({other})", other.code()),
    }
}

/// The secrets for `route` from its variable, or the demo secret when the variable is unset.
/// The value is one secret, kept whole (a GitHub secret may hold spaces); while rotating, one
/// secret per line. A blank one is refused.
fn secrets(route: &Route) -> Result<Vec<String>, StartError> {
    let value = match std::env::var(route.variable) {
        Ok(value) => value,
        Err(std::env::VarError::NotPresent) => return Ok(vec![route.demo_secret.to_owned()]),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(StartError(format!("{} is not valid UTF-8", route.variable)))
        }
    };
    let secrets: Vec<String> = value
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if secrets.is_empty() || secrets.iter().any(|s| s.trim().is_empty()) {
        return Err(StartError(format!(
            "{} is blank: set it to the sender's secret (one per line while rotating)",
            route.variable
        )));
    }
    Ok(secrets)
}

/// PostgreSQL when `DATABASE_URL` is set, Redis when `REDIS_URL` is, else memory; with the
/// store's description for the banner.
pub(crate) async fn store() -> Result<(Arc<dyn IdempotencyStore>, String), StartError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        #[cfg(feature = "postgres")]
        {
            let store = verihook::idempotency::PostgresStore::connect(&url).await?;
            store.create_table().await.map_err(|err| {
                StartError(format!("DATABASE_URL: cannot create the table: {err}"))
            })?;
            return Ok((Arc::new(store), "PostgreSQL (DATABASE_URL)".to_owned()));
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = url;
            return Err(StartError(
                "DATABASE_URL is set, but this build has no PostgreSQL store: add the \
                 `postgres` feature (--features axum,postgres or actix,postgres)"
                    .into(),
            ));
        }
    }
    if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let store = verihook::idempotency::RedisStore::connect(&url).await?;
            return Ok((Arc::new(store), "Redis (REDIS_URL)".to_owned()));
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = url;
            return Err(StartError(
                "REDIS_URL is set, but this build has no Redis store: add the `redis` feature \
                 (--features axum,redis or actix,redis)"
                    .into(),
            ));
        }
    }
    Ok((
        Arc::new(MemoryStore::new()),
        "in memory (this process only)".to_owned(),
    ))
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
}

/// The routes on Axum, each answering from `receiver` and logging its outcome.
#[cfg(feature = "axum")]
#[allow(dead_code)] // not every example uses both
pub(crate) fn axum_app(receiver: Receiver) -> axum::Router {
    axum_routes(receiver, |_, route| route)
}

/// A sender's route on Axum, before `wrap` adds the app's own layers to it.
#[cfg(feature = "axum")]
pub(crate) type AxumRoute = axum::routing::MethodRouter<Arc<Receiver>>;

/// The routes on Axum, each passed through `wrap(sender, route)` (to add guards, say).
#[cfg(feature = "axum")]
pub(crate) fn axum_routes(
    receiver: Receiver,
    wrap: impl Fn(&'static str, AxumRoute) -> AxumRoute,
) -> axum::Router {
    use axum::routing::post;
    use axum::Extension;
    use verihook::axum::{Received, SenderName};
    let mut app = axum::Router::new();
    for route in ROUTES {
        let sender = route.sender;
        let handler = post(move |received: Received| async move {
            log(sender, received.outcome());
            received
        })
        .layer(Extension(SenderName::new(sender)));
        app = app.route(route.path, wrap(sender, handler));
    }
    app.with_state(Arc::new(receiver))
}
