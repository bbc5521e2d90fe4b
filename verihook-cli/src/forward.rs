//! `verihook forward`: a forwarding worker from flags (or the environment), publishing a durable
//! inbox's events to NATS JetStream or RabbitMQ until stopped.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use verihook::forward::{amqp::AmqpPublisher, nats::NatsPublisher, Forwarder, Publisher};
use verihook::inbox::{Attempt, Fate, Worker};

#[derive(Args, Debug)]
pub(super) struct ForwardArgs {
    #[command(flatten)]
    inbox: super::inbox_command::InboxLocation,
    /// Publish to NATS JetStream at this URL (or the NATS_URL variable).
    #[arg(
        long,
        env = "NATS_URL",
        hide_env_values = true,
        required_unless_present = "amqp_url"
    )]
    nats_url: Option<String>,
    /// The JetStream stream, required to exist unless --create-stream.
    #[arg(long, default_value = verihook::forward::nats::DEFAULT_STREAM, requires = "nats_url")]
    stream: String,
    /// Create the stream (on --stream-subjects) when it does not exist.
    #[arg(long, requires = "nats_url")]
    create_stream: bool,
    /// How long a created stream drops a re-published event (its duplicate window): longer than
    /// --lease, so that the publish repeated after a crash falls inside it.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, requires = "create_stream")]
    duplicate_window: Duration,
    /// The subjects a created stream takes (repeatable).
    #[arg(long, default_value = "webhooks.>", requires = "create_stream")]
    stream_subjects: Vec<String>,
    /// The subject of each event: placeholders {sender}, {scheme}, {type}, {id},
    /// {ordering_key}.
    #[arg(long, default_value = verihook::forward::nats::DEFAULT_SUBJECT, requires = "nats_url")]
    subject: String,
    /// Publish to an AMQP 0-9-1 broker (RabbitMQ) at this URL (or the AMQP_URL variable).
    #[arg(
        long,
        env = "AMQP_URL",
        hide_env_values = true,
        conflicts_with = "nats_url"
    )]
    amqp_url: Option<String>,
    /// The exchange, required to exist unless --declare-exchange.
    #[arg(long, default_value = verihook::forward::amqp::DEFAULT_EXCHANGE, requires = "amqp_url")]
    exchange: String,
    /// Declare the exchange (durable, topic) when it does not exist.
    #[arg(long, requires = "amqp_url")]
    declare_exchange: bool,
    /// The routing key of each event: placeholders as --subject.
    #[arg(long, default_value = verihook::forward::amqp::DEFAULT_ROUTING_KEY, requires = "amqp_url")]
    routing_key: String,
    /// Add the CloudEvents attributes (ce-* on NATS, cloudEvents_* on AMQP).
    #[arg(long)]
    cloudevents: bool,
    /// Events published at once (events of one ordering key always one at a time).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Attempts before an event becomes a dead letter.
    #[arg(long, default_value_t = 8)]
    max_attempts: u32,
    /// How long a worker holds an event before another may take it over (30s, 5m).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    lease: Duration,
}

pub(super) fn run(args: &ForwardArgs) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(forward(args))
}

async fn publisher(args: &ForwardArgs) -> Result<(Arc<dyn Publisher>, String), String> {
    let setup = |e: verihook::forward::SetupError| e.to_string();
    let template = |e: verihook::forward::TemplateError| e.to_string();
    if let Some(url) = &args.nats_url {
        let mut builder = NatsPublisher::builder()
            .subject(&args.subject)
            .map_err(template)?
            .cloudevents(args.cloudevents);
        builder = if args.create_stream {
            builder
                .create_stream(&args.stream, args.stream_subjects.iter().cloned())
                .duplicate_window(args.duplicate_window)
        } else {
            builder.require_stream(&args.stream)
        };
        let publisher = builder.connect(url).await.map_err(setup)?;
        let shown = format!("NATS stream {} (subject {})", args.stream, args.subject);
        return Ok((Arc::new(publisher), shown));
    }
    let Some(url) = &args.amqp_url else {
        return Err("give the broker: --nats-url URL or --amqp-url URL".to_owned());
    };
    let publisher = AmqpPublisher::builder()
        .exchange(&args.exchange)
        .declare_exchange(args.declare_exchange)
        .routing_key(&args.routing_key)
        .map_err(template)?
        .cloudevents(args.cloudevents)
        .connect(url)
        .await
        .map_err(setup)?;
    let shown = format!(
        "AMQP exchange {} (routing key {})",
        args.exchange, args.routing_key
    );
    Ok((Arc::new(publisher), shown))
}

/// One JSON line per attempt on standard output.
fn report(attempt: &Attempt) {
    let (fate, error) = match &attempt.fate {
        Fate::Done => ("published", None),
        Fate::Retry { error, .. } => ("retry", Some(error.as_str())),
        Fate::Dead { error } => ("dead", Some(error.as_str())),
        Fate::Lost => ("lost", None),
        _ => ("settled", None),
    };
    let line = serde_json::json!({
        "key": attempt.key,
        "sender": attempt.sender,
        "attempt": attempt.number,
        "ordering_key": attempt.ordering_key,
        "fate": fate,
        "error": error,
    });
    println!("{line}");
}

async fn forward(args: &ForwardArgs) -> Result<ExitCode, String> {
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".to_owned());
    }
    let inbox = args.inbox.open().await?;
    // A missing table or an unreachable server is said now, not retried in silence.
    inbox.stats().await.map_err(|e| format!("the inbox: {e}"))?;
    let (publisher, shown) = match publisher(args).await {
        Ok(publisher) => publisher,
        Err(message) => {
            eprintln!("verihook forward: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let worker = Worker::builder(inbox)
        .handler(Forwarder::from_arc(publisher).handler())
        .concurrency(args.concurrency)
        .max_attempts(args.max_attempts)
        .lease(args.lease)
        .on_attempt(report)
        .build()
        .map_err(|e| e.to_string())?;
    eprintln!(
        "verihook forward: publishing the inbox's events to {shown}, {} at a time; Ctrl-C stops",
        args.concurrency
    );
    worker.run(stopped(), Duration::from_secs(10)).await;
    eprintln!("verihook forward: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
