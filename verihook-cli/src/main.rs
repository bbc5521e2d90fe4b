//! `verihook`: sign webhook requests and find out why one is rejected.
//!
//! ```text
//! verihook verify --provider stripe --secret whsec_... -H 'Stripe-Signature: t=...,v1=...' --body-file event.json
//! verihook sign   --provider github --secret 'my secret' --body-file event.json
//! verihook verify --provider twilio --secret-file token.txt --url https://example.com/sms -H 'X-Twilio-Signature: ...' --body-file form.txt
//! ```
//!
//! `verify` prints one JSON object and exits 0 (authentic) or 1 (rejected); usage errors exit 2.
//! Secrets come from `--secret` (repeatable), `--secret-file PATH` (one per line) or the
//! `VERIHOOK_SECRET` environment variable (one secret, kept whole; several one per line), so they need not
//! appear in the process list.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use verihook::providers::{self, Provider, SignError, SignRequest};
use verihook::scheme::declared::{SchemeSpec, Source, TimeUnit, TimestampSpec};
use verihook::testing::DeclaredSigner;

mod console;
mod forward;
mod listen;

/// The event type of a declared sender's sample when none is given.
const DECLARED_SAMPLE_EVENT: &str = "invoice.paid";
use verihook::{
    dangerous, diagnose, event::Verified, scheme::VerifyOptions, RequestHead, VerifyError,
    WebhookRequest,
};

#[derive(Parser, Debug)]
#[command(name = "verihook", version, about = "Sign and verify webhook requests")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify a captured request; prints one JSON object, exits 0 if authentic, 1 if not.
    Verify(VerifyArgs),
    /// Sign a body; prints the header lines (`Name: value`) to send with it.
    Sign(SignArgs),
    /// Sign a body (or a sample event) and POST it, printing each response; exits 0 if every
    /// answer was 2xx, 1 otherwise.
    Send(SendArgs),
    /// Listen on 127.0.0.1 for webhooks on any path: find the sender, verify, print one block
    /// (or JSON line) per request with the diagnosis when rejected, and answer like the real
    /// receiver (or forward to the app with --forward).
    Listen(listen::ListenArgs),
    /// Look into a durable inbox and act on it: stats, dead letters, retry, purge
    /// (PostgreSQL with --database-url, Redis with --redis-url).
    Inbox(inbox_command::InboxArgs),
    /// Serve a console on 127.0.0.1 in the browser: webhooks (sent to any other path) listed
    /// live with their verdicts and diagnoses, resent, altered or saved as fixtures; with
    /// --database-url or --redis-url, the inbox's counts, failures and issues, with retry and
    /// replay.
    Console(console::ConsoleArgs),
    /// Publish a durable inbox's events to NATS JetStream or RabbitMQ, each completed only
    /// once the broker confirmed it; one JSON line per attempt; runs until Ctrl-C.
    Forward(forward::ForwardArgs),
}

/// A built-in provider, by the name (or alias) it was given as: `svix` is Standard Webhooks
/// with Svix's header names.
#[derive(Clone, Debug)]
struct ProviderName {
    provider: &'static Provider,
    named: String,
}

/// Parses `--provider` against the registry: every provider's name, its aliases accepted.
fn provider_name() -> impl TypedValueParser<Value = ProviderName> {
    PossibleValuesParser::new(providers::ALL.iter().map(|provider| {
        PossibleValue::new(provider.name).aliases(provider.aliases.iter().copied())
    }))
    .try_map(|named: String| {
        providers::find(&named)
            .map(|provider| ProviderName {
                provider,
                named: named.clone(),
            })
            .ok_or_else(|| format!("{named} is not a built-in provider"))
    })
}

/// Where secrets come from: flags, a file, or the environment.
#[derive(Args, Debug)]
struct Secrets {
    /// Key material exactly as the provider issues it; repeat for rotation. Prefer
    /// --secret-file or VERIHOOK_SECRET: arguments show in the process list. VERIHOOK_SECRET
    /// holds one secret, kept whole (spaces included); for rotation, one secret per line. A
    /// blank secret is a usage error.
    #[arg(long, short = 's')]
    secret: Vec<String>,
    /// A file with one secret per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
}

impl Secrets {
    /// Every secret given, in order: flags, then the file, then `VERIHOOK_SECRET`.
    fn all(&self) -> Result<Vec<String>, Usage> {
        let mut all = self.secret.clone();
        if let Some(path) = &self.secret_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Usage(format!("--secret-file {}: {e}", path.display())))?;
            all.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if let Ok(value) = std::env::var("VERIHOOK_SECRET") {
            all.extend(secret_lines(&value));
        }
        if all.is_empty() {
            return Err(Usage(
                "no secret: give --secret, --secret-file PATH or the VERIHOOK_SECRET variable"
                    .to_owned(),
            ));
        }
        if let Some(n) = all.iter().position(|secret| secret.trim().is_empty()) {
            return Err(Usage(format!(
                "secret {} of {} is blank (only white space): give the secret itself",
                n + 1,
                all.len()
            )));
        }
        Ok(all)
    }

    fn first(&self) -> Result<String, Usage> {
        Ok(self.all()?.swap_remove(0))
    }
}

/// Who sent the request: a built-in provider, or a declared scheme from a file.
#[derive(Args, Debug)]
struct SenderArgs {
    /// A built-in provider, by its name or an alias (`svix`: Standard Webhooks with Svix's
    /// header names); `sign` and `send` refuse a provider only it can sign for (discord).
    #[arg(
        long,
        short = 'p',
        ignore_case = true,
        value_parser = provider_name(),
        required_unless_present = "scheme_file",
        conflicts_with = "scheme_file"
    )]
    provider: Option<ProviderName>,
    /// A declared scheme (JSON, as `verihook::scheme::declared::SchemeSpec` reads it) for a
    /// sender without a built-in, instead of --provider; see examples/schemes/.
    #[arg(long, value_name = "PATH")]
    scheme_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    secrets: Secrets,
    /// The public URL the provider posted to (required for twilio and square, which sign it).
    #[arg(long)]
    url: Option<String>,
    /// A request header, `Name: value`; repeat for each.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The raw body; read from standard input when absent.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Verify as of this Unix time (seconds) instead of now.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Largest gap allowed between the signed timestamp and now, in seconds; default: the
    /// scheme's own (300 for most, Paddle 5, Linear 60, as their SDKs apply).
    #[arg(long, value_name = "SECS")]
    tolerance: Option<u64>,
    /// When rejected, add a `diagnosis` list: the likely causes (body re-serialised or its
    /// newlines changed, secret mistyped, clock off, another URL, another sender), each
    /// checked by verifying with the mistake undone. Other senders' secrets are read from
    /// every `<NAME>_WEBHOOK_SECRET` variable.
    #[arg(long)]
    explain: bool,
}

#[derive(Args, Debug)]
struct SignArgs {
    #[command(flatten)]
    sender: SenderArgs,
    /// Key material as the provider issues it (`whsk_...` signs Standard Webhooks `v1a`).
    #[command(flatten)]
    secrets: Secrets,
    /// The URL the provider posts to (twilio and square sign it).
    #[arg(long)]
    url: Option<String>,
    /// Event id: `X-GitHub-Delivery` or `webhook-id` (Stripe's id is inside the body).
    #[arg(long)]
    id: Option<String>,
    /// GitHub's `X-GitHub-Event` (default `ping`), Shopify's `X-Shopify-Topic` (default
    /// `orders/create`), GitLab's `X-Gitlab-Event` (default `Push Hook`) or Linear's
    /// `Linear-Event` (default `Issue`); other schemes carry the type inside the body.
    #[arg(long)]
    event: Option<String>,
    /// Signing time, Unix seconds; defaults to now.
    #[arg(long, value_name = "UNIX")]
    timestamp: Option<u64>,
    /// The raw body; read from standard input when absent.
    #[arg(long)]
    body_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
// A fixture names its sender: --provider is not needed with it.
#[command(mut_arg("provider", |arg| arg.required_unless_present_any(["scheme_file", "fixture"])))]
struct SendArgs {
    #[command(flatten)]
    sender: SenderArgs,
    /// Key material as the provider issues it.
    #[command(flatten)]
    secrets: Secrets,
    /// Where to POST (http:// only), e.g. http://127.0.0.1:3000/webhooks/github.
    #[arg(long)]
    url: String,
    /// The raw body; a realistic sample event for the provider when absent.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Event type: GitHub's `X-GitHub-Event`, the sample body's `type` for the others.
    #[arg(long)]
    event: Option<String>,
    /// Event id: `X-GitHub-Delivery`, `webhook-id`, or the Stripe sample body's `id`.
    #[arg(long)]
    id: Option<String>,
    /// Send the same signed delivery this many times (to watch deduplication).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    repeat: u32,
    /// How many of the repeats are in flight at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// After signing, change the body as a misbehaving proxy or framework would, to see what a
    /// receiver (or `verihook listen`) answers.
    #[arg(long, value_enum)]
    alter: Option<Alteration>,
    /// Send a fixture (as `verihook console` saves it): its body and headers, signed again now
    /// with its test secret, instead of --provider and a body.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["provider", "scheme_file", "body_file", "event", "id", "secret", "secret_file"])]
    fixture: Option<PathBuf>,
}

/// What `send --alter` does to the body after signing it.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Alteration {
    /// Append a newline.
    TrailingNewline,
    /// Turn LF line endings into CRLF.
    Crlf,
    /// Re-serialise the JSON pretty-printed (2 spaces), members in order.
    Pretty,
    /// Re-serialise the JSON compact, members in order.
    Compact,
}

impl Alteration {
    fn apply(self, body: &[u8]) -> Result<Bytes, Usage> {
        let relaid = |pretty: bool| {
            let mut reader = serde_json::Deserializer::from_slice(body);
            let mut out = Vec::with_capacity(body.len() * 2);
            let done = if pretty {
                serde_transcode::transcode(
                    &mut reader,
                    &mut serde_json::Serializer::pretty(&mut out),
                )
            } else {
                serde_transcode::transcode(&mut reader, &mut serde_json::Serializer::new(&mut out))
            };
            done.map(|()| Bytes::from(out))
                .map_err(|e| Usage(format!("--alter needs a JSON body: {e}")))
        };
        match self {
            Self::TrailingNewline => Ok(Bytes::from([body, b"\n"].concat())),
            Self::Crlf => Ok(Bytes::from(body.iter().fold(
                Vec::with_capacity(body.len() + body.len() / 16),
                |mut out, &byte| {
                    if byte == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(byte);
                    out
                },
            ))),
            Self::Pretty => relaid(true),
            Self::Compact => relaid(false),
        }
    }
}

/// A usage error: printed on standard error, exit status 2.
struct Usage(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify(&args),
        Command::Sign(args) => sign(&args),
        Command::Send(args) => send(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Inbox(args) => inbox_command::run(&args).map_err(Usage),
        Command::Console(args) => console::run(&args),
        Command::Forward(args) => forward::run(&args).map_err(Usage),
    };
    match result {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("verihook: {message}");
            ExitCode::from(2)
        }
    }
}

fn verify(args: &VerifyArgs) -> Result<ExitCode, Usage> {
    let headers = parse_headers(&args.headers)?;
    let body = read_body(args.body_file.as_ref())?;
    let secrets = args.secrets.all()?;
    let sender = Sender::from_args(&args.sender)?;
    if let Sender::Builtin(ProviderName {
        provider: builtin, ..
    }) = &sender
    {
        if builtin.signs_url && args.url.is_none() {
            return Err(Usage(format!(
                "--provider {} signs the URL: give --url, the public URL it posted to",
                builtin.name
            )));
        }
    }
    let mut options = VerifyOptions::default();
    options.tolerance = args.tolerance.map(Duration::from_secs);
    let now = match args.now {
        Some(seconds) => UNIX_EPOCH
            .checked_add(Duration::from_secs(seconds))
            .ok_or_else(|| Usage(format!("--now {seconds} is out of range")))?,
        None => SystemTime::now(),
    };
    let uri: http::Uri = match &args.url {
        Some(url) => {
            let parsed: http::Uri = url
                .parse()
                .map_err(|_| Usage(format!("--url {url}: not a valid URL")))?;
            let target = parsed
                .path_and_query()
                .map_or("/", |target| target.as_str());
            target
                .parse()
                .map_err(|_| Usage(format!("--url {url}: not a valid URL")))?
        }
        None => http::Uri::from_static("/"),
    };
    let texts: Vec<&str> = secrets.iter().map(String::as_str).collect();
    // A diagnostic tool verifies with any non-empty secret, and warns when one is weak.
    let explainer = args.explain.then(|| {
        let explainer = match &sender {
            Sender::Builtin(chosen) => Some(diagnose::Explainer::provider(
                chosen.provider,
                &texts,
                args.url.as_deref(),
                options.clone(),
            )),
            Sender::Declared(spec) => Some(diagnose::Explainer::declared(
                spec,
                &texts,
                args.url.as_deref(),
                options.clone(),
            )),
        };
        explainer.map(with_other_senders)
    });
    let (scheme, warnings, name) = match &sender {
        Sender::Builtin(ProviderName {
            provider: builtin, ..
        }) => {
            let warnings: Vec<String> = texts
                .iter()
                .filter_map(|secret| weak_secret(builtin, secret, args.url.as_deref()))
                .collect();
            let scheme =
                dangerous::allow_short_secrets(builtin, &texts, args.url.as_deref(), options);
            (scheme, warnings, builtin.name)
        }
        Sender::Declared(spec) => {
            let warnings = texts
                .iter()
                .filter(|secret| secret.len() < spec.secret.min_len)
                .map(|secret| {
                    format!(
                        "weak secret: {} bytes, fewer than the specification's {}",
                        secret.len(),
                        spec.secret.min_len
                    )
                })
                .collect();
            // A diagnostic tool verifies with any non-empty secret (the warning above says
            // when one is weak): the spec's minimum is lowered through `dangerous`.
            let mut lenient = dangerous::allow_short_declared_secrets((**spec).clone());
            lenient.secret.min_len = 1;
            let scheme = lenient
                .build(&texts, args.url.as_deref())
                .map_err(|e| Usage(e.to_string()))?
                .with_options(options);
            (Ok(scheme.boxed()), warnings, "declared")
        }
    };
    let method = http::Method::POST;
    let outcome = scheme.and_then(|scheme| {
        let head = RequestHead::new(&method, &uri, &headers);
        scheme.verify_at(&WebhookRequest::new(head, &body), now)
    });
    let (report, code) = match &outcome {
        Ok(Verified::Event(event)) => (
            Report::Authentic {
                ok: true,
                provider: event.scheme(),
                id: event.id(),
                event_type: event.event_type(),
                timestamp: event.unix_timestamp(),
                handshake: None,
                warnings: &warnings,
            },
            ExitCode::SUCCESS,
        ),
        Ok(Verified::Handshake(answer)) => (
            Report::Authentic {
                ok: true,
                provider: name,
                id: None,
                event_type: None,
                timestamp: None,
                handshake: Some(String::from_utf8_lossy(answer.body())),
                warnings: &warnings,
            },
            ExitCode::SUCCESS,
        ),
        Ok(_) => return Err(Usage("an unknown verification result".to_owned())),
        Err(err) => (
            Report::Rejected {
                ok: false,
                error: err.code(),
                message: err.to_string(),
                warnings: &warnings,
                diagnosis: explainer.flatten().map(|explainer| {
                    let head = RequestHead::new(&method, &uri, &headers);
                    diagnosis_lines(&explainer.diagnose(&WebhookRequest::new(head, &body), now))
                }),
            },
            ExitCode::from(1),
        ),
    };
    let line = serde_json::to_string(&report)
        .map_err(|e| Usage(format!("cannot encode the report: {e}")))?;
    println!("{line}");
    Ok(code)
}

/// A warning when `secret` is shorter than the library accepts: the CLI still signs and
/// verifies with it (it may be what the provider really uses; GitHub lets users pick any).
fn weak_secret(builtin: &Provider, secret: &str, url: Option<&str>) -> Option<String> {
    match builtin.build(&[secret], url, VerifyOptions::default()) {
        Err(VerifyError::BadSecret(err))
            if matches!(err.reason(), verihook::error::SecretError::TooShort { .. }) =>
        {
            Some(format!("weak secret: {}", err.reason()))
        }
        _ => None,
    }
}

/// What `verify` prints, fields in the documented order.
#[derive(Serialize)]
#[serde(untagged)]
enum Report<'a> {
    Authentic {
        ok: bool,
        provider: &'a str,
        id: Option<Cow<'a, str>>,
        #[serde(rename = "type")]
        event_type: Option<Cow<'a, str>>,
        timestamp: Option<u64>,
        /// The answer a handshake (Slack url_verification, Discord PING) gets.
        #[serde(skip_serializing_if = "Option::is_none")]
        handshake: Option<Cow<'a, str>>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        warnings: &'a [String],
    },
    Rejected {
        ok: bool,
        error: &'static str,
        message: String,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        warnings: &'a [String],
        /// With `--explain`: the likely causes, each checked.
        #[serde(skip_serializing_if = "Option::is_none")]
        diagnosis: Option<Vec<DiagnosisLine>>,
    },
}

/// One finding of `--explain`, as printed.
#[derive(Serialize)]
struct DiagnosisLine {
    cause: &'static str,
    advice: String,
}

fn diagnosis_lines(findings: &[diagnose::Finding]) -> Vec<DiagnosisLine> {
    findings
        .iter()
        .map(|finding| DiagnosisLine {
            cause: finding.cause.code(),
            advice: finding.advice.clone(),
        })
        .collect()
}

/// The secrets in a variable's value: the whole value is one secret (a secret may hold
/// spaces: GitHub lets users pick any text); for rotation, one secret per line. Empty lines
/// are skipped; a line of white space is kept, for the caller to refuse as blank.
fn secret_lines(value: &str) -> Vec<String> {
    value
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every sender whose secrets are in a `<NAME>_WEBHOOK_SECRET` variable (one per line, see
/// [`secret_lines`]), as `(name, secrets)`, names lower-case.
fn senders_from_environment() -> Vec<(String, Vec<String>)> {
    let mut senders: Vec<(String, Vec<String>)> = std::env::vars()
        .filter_map(|(key, value)| {
            let name = key.strip_suffix("_WEBHOOK_SECRET")?;
            let secrets = secret_lines(&value);
            (!name.is_empty() && !secrets.is_empty())
                .then(|| (name.to_ascii_lowercase().replace('_', "-"), secrets))
        })
        .collect();
    senders.sort();
    senders
}

/// `explainer` with every other sender of the environment (see [`senders_from_environment`]).
fn with_other_senders(explainer: diagnose::Explainer) -> diagnose::Explainer {
    let own = explainer.sender().to_owned();
    senders_from_environment()
        .into_iter()
        .filter(|(name, _)| *name != own)
        .fold(explainer, |explainer, (name, secrets)| {
            // Another sender's blank secret cannot explain anything: left out.
            let texts: Vec<&str> = secrets
                .iter()
                .map(String::as_str)
                .filter(|secret| !secret.trim().is_empty())
                .collect();
            explainer.other_sender(name, &texts)
        })
}

fn sign(args: &SignArgs) -> Result<ExitCode, Usage> {
    let body = read_body(args.body_file.as_ref())?;
    let sender = Sender::from_args(&args.sender)?;
    let chosen = match &sender {
        Sender::Builtin(chosen) => chosen,
        Sender::Declared(spec) => {
            let headers = declared_headers(
                spec,
                &args.secrets.first()?,
                args.url.as_deref(),
                args.id.as_deref(),
                args.timestamp,
                &body,
            )?;
            return print_headers(&headers);
        }
    };
    if let (Some(note), Some(_)) = (chosen.provider.id_note(), &args.id) {
        eprintln!("verihook: note: {note}");
    }
    let event = args
        .event
        .clone()
        .unwrap_or_else(|| chosen.provider.header_event().to_owned());
    let headers = signed_headers(
        chosen,
        &args.secrets.first()?,
        args.url.as_deref(),
        args.id.as_deref(),
        &event,
        args.timestamp,
        &body,
    )?;
    print_headers(&headers)
}

/// Prints `Name: value` lines, as `sign` does.
fn print_headers(headers: &HeaderMap) -> Result<ExitCode, Usage> {
    let mut out = std::io::stdout().lock();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default();
        writeln!(out, "{}: {value}", display_name(name.as_str()))
            .map_err(|e| Usage(format!("cannot write to standard output: {e}")))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The headers `chosen` sends with `body`: signed now (or at `timestamp`) under `secret`.
fn signed_headers(
    chosen: &ProviderName,
    secret: &str,
    url: Option<&str>,
    id: Option<&str>,
    event: &str,
    timestamp: Option<u64>,
    body: &[u8],
) -> Result<HeaderMap, Usage> {
    let provider = chosen.provider;
    let id = id.map_or_else(generated_id, str::to_owned);
    let signed = provider.sign(&SignRequest {
        named: &chosen.named,
        secret,
        url,
        id: &id,
        event,
        timestamp: timestamp.unwrap_or_else(|| unix_seconds(SystemTime::now())),
        body,
    });
    // A provider only it can sign for has nothing to warn about.
    if !matches!(signed, Err(SignError::Unsupported(_))) {
        if let Some(warning) = weak_secret(provider, secret, url) {
            eprintln!("verihook: warning: {warning}");
        }
    }
    let signed = signed.map_err(|err| match err {
        SignError::Secret(e) => Usage(format!("--secret: {e}")),
        SignError::NeedsUrl => Usage(format!(
            "--provider {} signs the URL: give --url",
            provider.name
        )),
        other => Usage(other.to_string()),
    })?;
    for note in &signed.notes {
        eprintln!("verihook: note: {note}");
    }
    Ok(signed.headers)
}

/// The HTTP client `send` and `listen --forward` use: any status is an answer, 30 s at most.
fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// `url`, refused unless it is `http://` (the CLI talks to local endpoints).
fn plain_http<'a>(flag: &str, url: &'a str) -> Result<&'a str, Usage> {
    if url.starts_with("http://") {
        Ok(url)
    } else {
        Err(Usage(format!(
            "{flag} {url}: only http:// URLs are supported"
        )))
    }
}

fn send(args: &SendArgs) -> Result<ExitCode, Usage> {
    plain_http("--url", &args.url)?;
    let (body, headers, name, id) = match &args.fixture {
        Some(path) => fixture_request(path, &args.url)?,
        None => signed_request(args)?,
    };
    let body = match args.alter {
        Some(alteration) => alteration.apply(&body)?,
        None => body,
    };
    let agent = http_agent();
    let failed = post_all(args, &body, &headers, &agent);
    eprintln!(
        "verihook: sent {} request{} for {name} delivery id={id}: {} answered 2xx, {failed} did not",
        args.repeat,
        if args.repeat == 1 { "" } else { "s" },
        args.repeat - failed,
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Posts `body` with `headers` to `--url`, `--repeat` times, printing each answer; how many
/// were not 2xx.
fn post_all(args: &SendArgs, body: &Bytes, headers: &HeaderMap, agent: &ureq::Agent) -> u32 {
    let next = std::sync::atomic::AtomicU32::new(0);
    let failures = std::sync::atomic::AtomicU32::new(0);
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|scope| {
        for _ in 0..args.concurrency.min(args.repeat) {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= args.repeat {
                    break;
                }
                let mut request = agent.post(&args.url);
                if let Some(map) = request.headers_mut() {
                    map.extend(headers.clone());
                }
                let line = match request.send(&body[..]) {
                    Ok(mut response) => {
                        let status = response.status().as_u16();
                        if !(200..300).contains(&status) {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        let text = response.body_mut().read_to_string().unwrap_or_default();
                        format!("#{} {status} {}", n + 1, text.trim_end())
                    }
                    Err(e) => {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        format!("#{} error {e}", n + 1)
                    }
                };
                if let Ok(mut out) = out.lock() {
                    let _ = writeln!(out, "{line}");
                }
            });
        }
    });
    failures.into_inner()
}

/// A fixture's body and headers, signed now with its test secret for `url`; its sender and id.
fn fixture_request(path: &PathBuf, url: &str) -> Result<(Bytes, HeaderMap, String, String), Usage> {
    let fixture = verihook::testing::Fixture::load(path)
        .map_err(|e| Usage(format!("--fixture {}: {e}", path.display())))?;
    let request = fixture
        .signed_at(unix_seconds(SystemTime::now()), Some(url))
        .map_err(|e| Usage(format!("--fixture {}: {e}", path.display())))?;
    Ok((request.body, request.headers, fixture.sender, fixture.id))
}

/// The body `send` posts and its headers, signed now; the sender's name and the delivery id.
fn signed_request(args: &SendArgs) -> Result<(Bytes, HeaderMap, String, String), Usage> {
    let id = args.id.clone().unwrap_or_else(generated_id);
    let sender = Sender::from_args(&args.sender)?;
    let event = args.event.clone().unwrap_or_else(|| {
        match &sender {
            Sender::Builtin(chosen) => chosen.provider.sample_event_type(),
            Sender::Declared(_) => DECLARED_SAMPLE_EVENT,
        }
        .to_owned()
    });
    let (body, content_type, mut headers) = match &sender {
        Sender::Builtin(chosen) => {
            let body = match &args.body_file {
                Some(path) => read_body(Some(path))?,
                None => Bytes::from(chosen.provider.sample_body(&id, &event)),
            };
            let content_type = chosen.provider.content_type(&body);
            let headers = signed_headers(
                chosen,
                &args.secrets.first()?,
                Some(&args.url),
                Some(&id),
                &event,
                None,
                &body,
            )?;
            (body, content_type, headers)
        }
        Sender::Declared(spec) => {
            let body = match &args.body_file {
                Some(path) => read_body(Some(path))?,
                None => Bytes::from(declared_sample(spec, &id, &event)),
            };
            let headers = declared_headers(
                spec,
                &args.secrets.first()?,
                Some(&args.url),
                Some(&id),
                None,
                &body,
            )?;
            (body, "application/json", headers)
        }
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    Ok((body, headers, sender.name().to_owned(), id))
}

/// Who signs: a built-in provider, or a declared scheme read from `--scheme-file`.
enum Sender {
    Builtin(ProviderName),
    Declared(Box<SchemeSpec>),
}

impl Sender {
    fn from_args(args: &SenderArgs) -> Result<Self, Usage> {
        match (&args.provider, args.scheme_file.as_ref()) {
            (Some(provider), None) => Ok(Self::Builtin(provider.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Usage(format!("--scheme-file {}: {e}", path.display())))?;
                let spec = serde_json::from_str(&text)
                    .map_err(|e| Usage(format!("--scheme-file {}: {e}", path.display())))?;
                Ok(Self::Declared(Box::new(spec)))
            }
            _ => Err(Usage("give --provider or --scheme-file".to_owned())),
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Builtin(chosen) => chosen.provider.name,
            Self::Declared(spec) => &spec.name,
        }
    }
}

/// The headers a declared sender sends with `body`, signed now (or at `timestamp`).
fn declared_headers(
    spec: &SchemeSpec,
    secret: &str,
    url: Option<&str>,
    id: Option<&str>,
    timestamp: Option<u64>,
    body: &[u8],
) -> Result<HeaderMap, Usage> {
    let timestamp = timestamp.unwrap_or_else(|| unix_seconds(SystemTime::now()));
    let id = id.map_or_else(generated_id, str::to_owned);
    DeclaredSigner::new(spec, secret, url)
        .map_err(|e| Usage(e.to_string()))?
        .sign(timestamp, Some(&id), body)
        .map_err(|e| Usage(e.to_string()))
}

/// A sample event for a declared sender: id, type and time, and the timestamp member when the
/// specification reads the timestamp from the body.
fn declared_sample(spec: &SchemeSpec, id: &str, event: &str) -> String {
    let now = unix_seconds(SystemTime::now());
    let mut value = serde_json::json!({
        "id": id,
        "type": event,
        "created": now,
        "data": { "object": { "id": "obj_1", "amount": 4200, "currency": "eur" } }
    });
    if let Some(TimestampSpec {
        source: Source::Body(member),
        unit,
        ..
    }) = &spec.timestamp
    {
        let stamp = match unit {
            TimeUnit::Milliseconds => now.saturating_mul(1000),
            _ => now,
        };
        value[member.as_str()] = serde_json::json!(stamp);
    }
    value.to_string()
}

/// A header's name as its provider spells it (`X-GitHub-Delivery`, `webhook-id`), else each
/// word capitalised (`X-Sig`).
fn display_name(name: &str) -> String {
    if let Some(spelled) = providers::ALL
        .iter()
        .find_map(|provider| provider.spelling(name))
    {
        return spelled.to_owned();
    }
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn parse_headers(lines: &[String]) -> Result<HeaderMap, Usage> {
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Usage(format!("-H {line:?}: expected 'Name: value'")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Usage(format!("-H {line:?}: invalid header name")))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| Usage(format!("-H {line:?}: invalid header value")))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn read_body(path: Option<&PathBuf>) -> Result<Bytes, Usage> {
    let mut body = Vec::new();
    match path {
        Some(path) => {
            body = std::fs::read(path)
                .map_err(|e| Usage(format!("--body-file {}: {e}", path.display())))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| Usage(format!("cannot read the body from standard input: {e}")))?;
        }
    }
    Ok(body.into())
}

fn unix_seconds(instant: SystemTime) -> u64 {
    instant
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A unique-enough id for a test delivery: `msg_` and the current time in nanoseconds.
fn generated_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("msg_{nanos:x}")
}

/// `verihook inbox stats|list|retry|purge`.
mod inbox_command {
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::time::Duration;

    use clap::{Args, Subcommand};
    use std::time::SystemTime;
    use verihook::inbox::{Filter, Inbox, PostgresInbox, Status, MAX_BATCH};

    #[derive(Args, Debug)]
    pub(super) struct InboxArgs {
        #[command(flatten)]
        location: InboxLocation,
        #[command(subcommand)]
        action: Action,
    }

    /// Where the inbox is: PostgreSQL or Redis.
    #[derive(Args, Debug)]
    pub(super) struct InboxLocation {
        /// The PostgreSQL inbox: postgres://user:password@host:port/database (or the
        /// DATABASE_URL variable).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
        database_url: Option<String>,
        /// The Redis inbox: redis://[:password@]host:port[/db] (or the REDIS_URL variable).
        #[arg(
            long,
            env = "REDIS_URL",
            hide_env_values = true,
            global = true,
            conflicts_with = "database_url"
        )]
        redis_url: Option<String>,
        /// The inbox table (default verihook_inbox).
        #[arg(long, global = true)]
        table: Option<String>,
    }

    impl InboxLocation {
        /// Connects to the inbox the flags name.
        pub(super) async fn open(&self) -> Result<Arc<dyn Inbox>, String> {
            open(self).await.map(|(inbox, _)| inbox)
        }

        /// Whether an inbox was named.
        pub(super) fn given(&self) -> bool {
            self.database_url.is_some() || self.redis_url.is_some()
        }

        /// The PostgreSQL inbox's table.
        pub(super) fn table(&self) -> &str {
            self.table.as_deref().unwrap_or("verihook_inbox")
        }
    }

    /// Which stored events a command selects.
    #[derive(Args, Debug, Clone, Default)]
    pub(super) struct Select {
        /// Only this sender's events.
        #[arg(long)]
        pub(super) sender: Option<String>,
        /// Only events of this type (exactly: invoice.paid).
        #[arg(long = "type")]
        pub(super) event_type: Option<String>,
        /// Only events stored since: an age (2h, 30m, 3days) or a time (2026-12-06T10:00:00Z).
        #[arg(long)]
        pub(super) since: Option<String>,
        /// Only events stored before: an age or a time, as --since.
        #[arg(long)]
        pub(super) until: Option<String>,
        /// Only events in this state: pending, leased, done, superseded, dead.
        #[arg(long)]
        pub(super) status: Option<String>,
        /// Only the dead letters of this issue (its id, as `issues` prints it).
        #[arg(long)]
        pub(super) issue: Option<String>,
    }

    impl Select {
        pub(super) fn filter(&self, limit: usize) -> Result<Filter, String> {
            let mut filter = Filter::new().limit(limit);
            if let Some(sender) = &self.sender {
                filter = filter.sender(sender);
            }
            if let Some(event_type) = &self.event_type {
                filter = filter.event_type(event_type);
            }
            if let Some(since) = &self.since {
                filter = filter.since(point_in_time("--since", since)?);
            }
            if let Some(until) = &self.until {
                filter = filter.until(point_in_time("--until", until)?);
            }
            if let Some(status) = &self.status {
                filter = filter.status(Status::parse(status).ok_or_else(|| {
                    format!("--status {status:?}: say pending, leased, done, superseded or dead")
                })?);
            }
            if let Some(issue) = &self.issue {
                filter = filter.issue(issue);
            }
            Ok(filter)
        }
    }

    /// An age before now (`2h`) or a time (`2026-12-06T10:00:00Z`).
    fn point_in_time(flag: &str, text: &str) -> Result<SystemTime, String> {
        if let Ok(age) = humantime::parse_duration(text) {
            return SystemTime::now()
                .checked_sub(age)
                .ok_or_else(|| format!("{flag} {text:?} reaches before the epoch"));
        }
        humantime::parse_rfc3339_weak(text).map_err(|_| {
            format!(
                "{flag} {text:?}: give an age (2h, 30m, 3days) or a time (2026-12-06T10:00:00Z)"
            )
        })
    }

    #[derive(Subcommand, Debug)]
    enum Action {
        /// One JSON object: pending, in_flight, done, dead, oldest_pending_secs.
        Stats,
        /// One JSON object per line for each stored event the selection takes (key, sender,
        /// id, event_type, ordering_key, status, attempts, enqueued_at, replays,
        /// replay_reason, last_error, issue, redacted), oldest first. `--dead` alone prints
        /// dead letters as key, provider, attempts, last_error.
        List {
            /// Dead letters (the same as --status dead, in the short form).
            #[arg(long)]
            dead: bool,
            #[command(flatten)]
            select: Select,
            /// At most this many (at most 1000).
            #[arg(long, default_value_t = 100)]
            limit: usize,
        },
        /// Dead letters grouped by failure (sender, route, error with numbers and ids masked):
        /// one JSON object per line with id, sender, route, error, count, first_seen,
        /// last_seen (Unix seconds), most recent first.
        Issues {
            /// At most this many.
            #[arg(long, default_value_t = 100)]
            limit: usize,
        },
        /// Put stored events back to work through today's handlers: the settled ones (done,
        /// superseded, dead) the selection takes, oldest first, in batches, each recorded as a
        /// replay with its reason. Ordering keys are respected, and new deliveries go first.
        Replay {
            #[command(flatten)]
            select: Select,
            /// List what would run, one JSON object per line, and change nothing.
            #[arg(long)]
            dry_run: bool,
            /// At most this many in all.
            #[arg(long, default_value_t = 1000)]
            limit: usize,
            /// Why, recorded with each replayed event.
            #[arg(long, default_value = "replayed from the command line")]
            reason: String,
        },
        /// Put the dead letter KEY back in the queue (exits 1 when there is none), or every
        /// dead letter of an issue with --issue ID.
        Retry {
            /// The event's key, as `list --dead` prints it.
            #[arg(required_unless_present = "issue", conflicts_with = "issue")]
            key: Option<String>,
            /// Re-drive the dead letters of this issue (its id, as `issues` prints it).
            #[arg(long)]
            issue: Option<String>,
        },
        /// Remove settled events older than the ages given; prints {"purged":N}.
        Purge {
            /// Remove done and superseded events settled more than this many seconds ago.
            #[arg(long, required_unless_present = "dead_before")]
            done_before: Option<u64>,
            /// Remove dead letters that died more than this many seconds ago.
            #[arg(long)]
            dead_before: Option<u64>,
            /// Only this sender's events.
            #[arg(long)]
            sender: Option<String>,
            /// Only events of this type.
            #[arg(long = "type")]
            event_type: Option<String>,
        },
    }

    pub(super) fn run(args: &InboxArgs) -> Result<ExitCode, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(act(args))
    }

    /// An opened inbox, and the PostgreSQL one itself when it is one (for reading an event's
    /// stored body).
    pub(super) type Opened = (Arc<dyn Inbox>, Option<Arc<PostgresInbox>>);

    /// Connects to the inbox `target` names.
    pub(super) async fn open(target: &InboxLocation) -> Result<Opened, String> {
        if let Some(url) = &target.redis_url {
            return verihook::inbox::RedisInbox::connect(url)
                .await
                .map(|inbox| (Arc::new(inbox) as Arc<dyn Inbox>, None))
                .map_err(|e| e.to_string());
        }
        let Some(url) = &target.database_url else {
            return Err(
                "give the inbox: --database-url URL or --redis-url URL (or DATABASE_URL, \
                 REDIS_URL)"
                    .to_owned(),
            );
        };
        let mut inbox = PostgresInbox::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(table) = &target.table {
            inbox = inbox.with_table(table).map_err(|e| e.to_string())?;
        }
        let inbox = Arc::new(inbox);
        Ok((inbox.clone(), Some(inbox)))
    }

    async fn act(args: &InboxArgs) -> Result<ExitCode, String> {
        let (inbox, _) = open(&args.location).await?;
        let failed = |e: verihook::idempotency::StoreError| e.to_string();
        match &args.action {
            Action::Stats => {
                let stats = inbox.stats().await.map_err(failed)?;
                print_json(&stats)?;
            }
            Action::List {
                dead,
                select,
                limit,
            } => {
                let mut filter = select.filter(*limit)?;
                if filter == Filter::new().limit(*limit) && *dead {
                    for letter in inbox.dead_letters(*limit).await.map_err(failed)? {
                        print_json(&letter)?;
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                if *dead {
                    filter = filter.status(Status::Dead);
                }
                for stored in inbox.find(&filter).await.map_err(failed)? {
                    print_json(&stored)?;
                }
            }
            Action::Issues { limit } => {
                for issue in inbox.issues(*limit).await.map_err(failed)? {
                    print_json(&issue)?;
                }
            }
            Action::Replay {
                select,
                dry_run,
                limit,
                reason,
            } => {
                let filter = select.filter(*limit)?;
                if *dry_run {
                    let matching: Vec<_> = inbox
                        .find(&filter)
                        .await
                        .map_err(failed)?
                        .into_iter()
                        .filter(|stored| stored.status.is_settled())
                        .collect();
                    for stored in &matching {
                        print_json(stored)?;
                    }
                    print_json(
                        &serde_json::json!({ "dry_run": true, "would_replay": matching.len() }),
                    )?;
                } else {
                    let replayed = replay(&*inbox, filter, *limit, reason)
                        .await
                        .map_err(failed)?;
                    print_json(&serde_json::json!({ "replayed": replayed, "reason": reason }))?;
                }
            }
            Action::Retry {
                key: Some(key),
                issue: None,
            } => {
                if !inbox.requeue(key).await.map_err(failed)? {
                    eprintln!("verihook: no dead letter has the key {key:?}");
                    return Ok(ExitCode::from(1));
                }
                print_json(&serde_json::json!({ "requeued": key }))?;
            }
            Action::Retry { issue, .. } => {
                let issue = issue.clone().unwrap_or_default();
                let requeued = retry_issue(&*inbox, &issue).await.map_err(failed)?;
                if requeued == 0 {
                    eprintln!("verihook: no dead letter belongs to the issue {issue:?}");
                    return Ok(ExitCode::from(1));
                }
                print_json(&serde_json::json!({ "requeued": requeued, "issue": issue }))?;
            }
            Action::Purge {
                done_before,
                dead_before,
                sender,
                event_type,
            } => {
                let mut purged = 0;
                let ages = [
                    (Status::Done, *done_before),
                    (Status::Superseded, *done_before),
                    (Status::Dead, *dead_before),
                ];
                for (status, seconds) in ages {
                    let Some(seconds) = seconds else { continue };
                    let mut filter = Filter::new().status(status);
                    filter.sender.clone_from(sender);
                    filter.event_type.clone_from(event_type);
                    loop {
                        let batch = inbox
                            .purge(&filter, Duration::from_secs(seconds), &[])
                            .await
                            .map_err(failed)?;
                        purged += batch;
                        if batch < MAX_BATCH as u64 {
                            break;
                        }
                    }
                }
                print_json(&serde_json::json!({ "purged": purged }))?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Re-drives every dead letter of `issue`, recorded as its retry; how many.
    pub(super) async fn retry_issue(
        inbox: &dyn Inbox,
        issue: &str,
    ) -> Result<usize, verihook::idempotency::StoreError> {
        let reason = format!("retry of issue {issue}");
        replay(inbox, Filter::new().issue(issue), usize::MAX, &reason).await
    }

    /// Replays what `filter` selects, up to `limit` in all, in batches of at most 100 (each
    /// replayed batch is pending, so the next selects the rest).
    pub(super) async fn replay(
        inbox: &dyn Inbox,
        filter: Filter,
        limit: usize,
        reason: &str,
    ) -> Result<usize, verihook::idempotency::StoreError> {
        let mut replayed = 0;
        while replayed < limit {
            let batch = filter.clone().limit((limit - replayed).min(100));
            let keys = inbox.replay(&batch, reason).await?;
            replayed += keys.len();
            if keys.len() < batch.limit {
                break;
            }
        }
        Ok(replayed)
    }

    fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
        let line = serde_json::to_string(value).map_err(|e| format!("cannot encode: {e}"))?;
        println!("{line}");
        Ok(())
    }
}
