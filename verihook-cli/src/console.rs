//! `verihook console`: a local console in the browser.
//!
//! Webhooks posted to any path but `/_console/...` are inspected exactly as `verihook listen`
//! inspects them (the same [`Inspector`]) and listed live on the page through server-sent
//! events; a captured request can be resent to the forward target, resent altered, or saved as
//! a fixture. With an inbox (`--database-url`, `--redis-url`), the inbox pages show its counts,
//! pending events, dead letters grouped into issues, and retry and replay them through the same
//! functions as `verihook inbox`.
//!
//! Safe by construction: it binds 127.0.0.1 only; the console's pages answer only requests
//! whose `Host` is the bound address (no DNS rebinding); actions take POST, a per-run token in
//! a header, and a same-origin `Origin` (no CSRF); every page carries a strict
//! Content-Security-Policy and loads nothing but its own script and style, embedded here;
//! signature headers and token fields are redacted before anything reaches the page, and the
//! script writes every value as text.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use tokio::sync::broadcast;
use verihook::inbox::{Inbox, PostgresInbox, Redaction, Status, Stored};

use super::inbox_command::{self, InboxLocation, Select};
use super::listen::{self, Inspector, ReceiveArgs};
use super::{unix_seconds, Alteration, Usage};

/// The console's own paths start with this; every other path receives webhooks.
const PREFIX: &str = "/_console";

/// How many captured requests the console keeps (the oldest go first).
const KEPT: usize = 500;

/// How many bytes of captured requests (bodies, headers, the page's views) the console keeps
/// at most (the oldest go first).
const KEPT_BYTES: usize = 64 << 20;

/// How much of a body the page shows.
const BODY_SHOWN: usize = 64 * 1024;

/// How many stored events an inbox page reads per state.
const PAGE_ROWS: usize = 1000;

/// The header an action's token travels in.
const TOKEN_HEADER: &str = "x-console-token";

/// The test secret fixtures are signed with unless another is given.
const FIXTURE_SECRET: &str = "whsec_dGVzdCBzZWNyZXQgZm9yIGZpeHR1cmVz";

const PAGE_SCRIPT: &str = include_str!("console/app.js");
const PAGE_STYLE: &str = include_str!("console/style.css");

/// Every console response carries these: nothing but the console's own script and style, no
/// framing, no sniffing, no caching, no referrer.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-resource-policy", "same-origin"),
];

#[derive(Args, Debug)]
pub(super) struct ConsoleArgs {
    #[command(flatten)]
    receive: ReceiveArgs,
    #[command(flatten)]
    inbox: InboxLocation,
    /// Where "save as fixture" writes fixture files.
    #[arg(long, value_name = "DIR", default_value = "fixtures")]
    fixture_dir: PathBuf,
    /// The test secret fixtures are signed with (never a real one: fixtures are committed).
    #[arg(long, value_name = "SECRET", default_value = FIXTURE_SECRET, hide_default_value = true)]
    fixture_secret: String,
}

/// One captured request: what was received (kept here, never sent to the page as it is) and
/// the page's view of it.
struct Capture {
    seq: u64,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    sender: Option<String>,
    id: Option<String>,
    event_type: Option<String>,
    view: Arc<str>,
}

/// The console's state.
struct Console {
    inspector: Inspector,
    token: String,
    hosts: [String; 2],
    captures: Mutex<VecDeque<Capture>>,
    next: AtomicU64,
    feed: broadcast::Sender<Arc<str>>,
    inbox: Option<inbox_command::Opened>,
    table: String,
    fixture_dir: PathBuf,
    fixture_secret: String,
}

pub(super) fn run(args: &ConsoleArgs) -> Result<ExitCode, Usage> {
    let inspector = Inspector::new(&args.receive)?;
    if args.fixture_secret.trim().is_empty() {
        return Err(Usage("--fixture-secret is blank".to_owned()));
    }
    let token = random_token()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start: {e}")))?;
    runtime.block_on(async move {
        let inbox = if args.inbox.given() {
            Some(inbox_command::open(&args.inbox).await.map_err(Usage)?)
        } else {
            None
        };
        let port = args.receive.port;
        let socket = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| Usage(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        let addr = socket.local_addr().map_err(|e| Usage(e.to_string()))?;
        let console = Arc::new(Console {
            inspector,
            token,
            hosts: [
                format!("127.0.0.1:{}", addr.port()),
                format!("localhost:{}", addr.port()),
            ],
            captures: Mutex::new(VecDeque::new()),
            next: AtomicU64::new(1),
            feed: broadcast::channel(256).0,
            inbox,
            table: args.inbox.table().to_owned(),
            fixture_dir: args.fixture_dir.clone(),
            fixture_secret: args.fixture_secret.clone(),
        });
        eprintln!(
            "verihook console: http://{addr}{PREFIX}/ ; webhooks to http://{addr}/ (any other \
             path); {}",
            console.inspector.summary()
        );
        let app = router(console);
        // Server-sent-event streams never end: on Ctrl-C the process stops without waiting.
        tokio::select! {
            served = axum::serve(socket, app) => {
                served.map_err(|e| Usage(format!("the server stopped: {e}")))?;
            }
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A per-run token: 128 random bits, hex.
fn random_token() -> Result<String, Usage> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Usage(format!("no randomness for the token: {e}")))?;
    Ok(const_hex::encode(bytes))
}

fn router(console: Arc<Console>) -> axum::Router {
    let pages = axum::Router::new()
        .route(PREFIX, get(live_page))
        .route(&format!("{PREFIX}/"), get(live_page))
        // A browser asks for it on its own: not a webhook.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route(&format!("{PREFIX}/app.js"), get(script))
        .route(&format!("{PREFIX}/style.css"), get(style))
        .route(&format!("{PREFIX}/captures"), get(captures))
        .route(&format!("{PREFIX}/feed"), get(feed))
        .route(&format!("{PREFIX}/captures/{{seq}}/resend"), post(resend))
        .route(
            &format!("{PREFIX}/captures/{{seq}}/alter/{{how}}"),
            post(resend_altered),
        )
        .route(
            &format!("{PREFIX}/captures/{{seq}}/fixture"),
            post(save_fixture),
        )
        .route(&format!("{PREFIX}/inbox"), get(inbox_page))
        .route(&format!("{PREFIX}/inbox/event"), get(event_page))
        .route(&format!("{PREFIX}/inbox/retry"), post(retry))
        .route(&format!("{PREFIX}/inbox/replay"), post(replay))
        .layer(axum::middleware::from_fn_with_state(console.clone(), guard));
    axum::Router::new()
        .merge(pages)
        .fallback(receive)
        .with_state(console)
}

/// The console's guard, before any of its pages: the bound `Host` only (a DNS-rebinding page
/// has its own), a same-origin `Origin` when one is sent, and for POST the run's token. Adds
/// the security headers to every answer.
async fn guard(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let refused = if !console.hosts.iter().any(|allowed| allowed == host) {
        Some((
            StatusCode::MISDIRECTED_REQUEST,
            "this console answers only at its own address",
        ))
    } else if headers
        .get(header::ORIGIN)
        .is_some_and(|origin| origin.as_bytes() != format!("http://{host}").as_bytes())
    {
        Some((StatusCode::FORBIDDEN, "a request from another origin"))
    } else if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "cross-site")
    {
        Some((StatusCode::FORBIDDEN, "a request from another site"))
    } else if request.method() == Method::POST
        && !headers
            .get(TOKEN_HEADER)
            .is_some_and(|token| same(token.as_bytes(), console.token.as_bytes()))
    {
        Some((StatusCode::FORBIDDEN, "an action without this run's token"))
    } else {
        None
    };
    let mut response = match refused {
        Some((status, why)) => (status, why).into_response(),
        None => next.run(request).await,
    };
    for (name, value) in SECURITY_HEADERS {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Compares two byte strings in time that depends on their length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// A webhook: inspected as `listen` does, recorded, shown live; answered as `listen` answers.
async fn receive(State(console): State<Arc<Console>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match listen::take_body(body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let (_, response) = console.inspect(parts, body, None).await;
    response
}

impl Console {
    /// Inspects a request, records it with `origin` (where it came from when the console sent
    /// it), publishes it; its number and the answer.
    async fn inspect(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        origin: Option<String>,
    ) -> (u64, Response) {
        let (report, response) = self.inspector.examine(&parts, body.clone()).await;
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let view = view(seq, origin.as_deref(), &report, &body);
        let capture = Capture {
            seq,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            sender: report.sender.clone(),
            id: report.id.clone(),
            event_type: report.event_type.clone(),
            view: Arc::from(view),
        };
        let shown = capture.view.clone();
        if let Ok(mut captures) = self.captures.lock() {
            captures.push_back(capture);
            keep_within(&mut captures);
        }
        // No page open: nobody to tell.
        let _ = self.feed.send(shown);
        (seq, response)
    }

    /// The request captured as `seq`, rebuilt to be sent again.
    fn captured(&self, seq: u64) -> Option<Captured> {
        let captures = self.captures.lock().ok()?;
        let found = captures.iter().find(|capture| capture.seq == seq)?;
        let mut request = http::Request::new(());
        *request.method_mut() = found.method.clone();
        *request.uri_mut() = found.uri.clone();
        *request.headers_mut() = found.headers.clone();
        // The body may change length; the length is set again when it is sent.
        request.headers_mut().remove(header::CONTENT_LENGTH);
        let (parts, ()) = request.into_parts();
        Some(Captured {
            parts,
            body: found.body.clone(),
            sender: found.sender.clone(),
            id: found.id.clone(),
            event_type: found.event_type.clone(),
        })
    }
}

/// Drops the oldest captures past [`KEPT`] or [`KEPT_BYTES`] (the newest is always kept).
fn keep_within(captures: &mut VecDeque<Capture>) {
    let mut bytes: usize = captures.iter().map(Capture::weight).sum();
    while captures.len() > KEPT || (bytes > KEPT_BYTES && captures.len() > 1) {
        if let Some(gone) = captures.pop_front() {
            bytes -= gone.weight();
        }
    }
}

impl Capture {
    /// The bytes it holds: its body, its view, its target and its headers (an empty body may
    /// come with large headers).
    fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        self.body.len() + self.view.len() + self.uri.to_string().len() + headers
    }
}

/// A captured request, rebuilt to be sent again, and what it was found to be.
struct Captured {
    parts: http::request::Parts,
    body: Bytes,
    sender: Option<String>,
    id: Option<String>,
    event_type: Option<String>,
}

/// What the page shows of a captured request, as one JSON line: the report (headers already
/// redacted), and the body as text with token fields redacted, raw and pretty.
fn view(seq: u64, origin: Option<&str>, report: &listen::Report, body: &[u8]) -> String {
    let shown = &body[..body.len().min(BODY_SHOWN)];
    let text = shown_text(&listen::redact_body(&String::from_utf8_lossy(shown)));
    let pretty = Alteration::Pretty
        .apply(text.as_bytes())
        .ok()
        .map(|pretty| shown_text(&String::from_utf8_lossy(&pretty)))
        .filter(|pretty| *pretty != text);
    serde_json::json!({
        "seq": seq,
        "origin": origin,
        "report": report,
        "body": text,
        "pretty": pretty,
        "bytes": body.len(),
        "cut": body.len() > BODY_SHOWN,
    })
    .to_string()
}

/// `text` for the page: line feeds and tabs kept, other control characters (a carriage return
/// too: CRLF line ends are worth seeing) and bidirectional controls written as `\u{..}` escapes
/// (they could disguise what is shown).
fn shown_text(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split('\t')
                .map(listen::printable)
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A page, with its content type.
fn page(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An action's answer: `{"ok":..,"message":..}` with its status.
fn answer(status: StatusCode, message: &str) -> Response {
    let mut response = page(
        "application/json",
        serde_json::json!({ "ok": status.is_success(), "message": message }).to_string(),
    );
    *response.status_mut() = status;
    response
}

async fn script() -> Response {
    page("text/javascript; charset=utf-8", PAGE_SCRIPT)
}

async fn style() -> Response {
    page("text/css; charset=utf-8", PAGE_STYLE)
}

/// Text made safe inside HTML (element content and quoted attribute values).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The frame every page shares: head (token, script, style), title and navigation.
fn frame(console: &Console, kind: &str, title: &str, content: &str) -> Response {
    let inbox_link = if console.inbox.is_some() {
        format!(r#" <a href="{PREFIX}/inbox">Inbox</a>"#)
    } else {
        String::new()
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="console-token" content="{token}">
<meta name="console-forward" content="{forward}">
<title>{title} · verihook console</title>
<link rel="stylesheet" href="{PREFIX}/style.css">
<script src="{PREFIX}/app.js" defer></script>
</head>
<body data-page="{kind}">
<header><h1>verihook console</h1><nav><a href="{PREFIX}/">Live</a>{inbox_link}</nav></header>
<main>
<h2>{title}</h2>
<p id="result" role="status"></p>
{content}
</main>
</body>
</html>
"#,
        token = esc(&console.token),
        forward = if console.inspector.forward().is_some() {
            "yes"
        } else {
            ""
        },
        title = esc(title),
    );
    page("text/html; charset=utf-8", html)
}

async fn live_page(State(console): State<Arc<Console>>) -> Response {
    let senders = console.inspector.sender_names();
    let content = format!(
        r#"<p class="hint">Webhooks sent to <code>http://{host}/</code> (any path but <code>{PREFIX}</code>) appear here as they arrive. Senders with secrets: {senders}. Forwarding to: {forward}.</p>
<div class="filters">
<label>Sender <select id="filter-sender"><option value="">all</option></select></label>
<label>Verdict <select id="filter-verdict"><option value="">all</option><option value="authentic">authentic</option><option value="rejected">rejected</option><option value="handshake">handshake</option></select></label>
<span id="shown"></span>
</div>
<table id="captures">
<thead><tr><th>#</th><th>Time</th><th>Request</th><th>Sender</th><th>Event</th><th>Verdict and diagnosis</th><th>Answer</th></tr></thead>
<tbody></tbody>
</table>
<p id="empty">No webhook yet.</p>"#,
        host = esc(&console.hosts[0]),
        senders = if senders.is_empty() {
            "none".to_owned()
        } else {
            esc(&senders.join(", "))
        },
        forward = esc(&console
            .inspector
            .forward()
            .map_or("nowhere (no --forward)".to_owned(), listen::shown_url)),
    );
    frame(&console, "live", "Live webhooks", &content)
}

/// Every kept capture, oldest first, as a JSON array of their views.
async fn captures(State(console): State<Arc<Console>>) -> Response {
    let views: Vec<Arc<str>> = console
        .captures
        .lock()
        .map(|captures| captures.iter().map(|c| c.view.clone()).collect())
        .unwrap_or_default();
    page("application/json", format!("[{}]", views.join(",")))
}

/// New captures as server-sent events, one view per event.
async fn feed(State(console): State<Arc<Console>>) -> Response {
    let receiver = console.feed.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(view) => {
                    return Some((
                        Ok::<_, Infallible>(SseEvent::default().data(&*view)),
                        receiver,
                    ))
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Sends a captured request again, as it was, through the console (so to the forward target).
async fn resend(State(console): State<Arc<Console>>, Path(seq): Path<u64>) -> Response {
    if console.inspector.forward().is_none() {
        return answer(
            StatusCode::CONFLICT,
            "no forward target: start the console with --forward URL",
        );
    }
    send_again(&console, seq, None).await
}

/// Sends a captured request again with its body altered as `send --alter` alters it.
async fn resend_altered(
    State(console): State<Arc<Console>>,
    Path((seq, how)): Path<(u64, String)>,
) -> Response {
    match Alteration::from_str(&how, true) {
        Ok(alteration) => send_again(&console, seq, Some(alteration)).await,
        Err(_) => answer(StatusCode::NOT_FOUND, "no such alteration"),
    }
}

/// Sends the capture `seq` again through the console, its body altered when asked: recorded,
/// shown, verified, passed on like any other request.
async fn send_again(console: &Console, seq: u64, alteration: Option<Alteration>) -> Response {
    let Some(Captured { parts, body, .. }) = console.captured(seq) else {
        return answer(StatusCode::NOT_FOUND, "no such capture");
    };
    let (body, origin) = match alteration {
        None => (body, format!("resend of #{seq}")),
        Some(alteration) => {
            let name = alteration
                .to_possible_value()
                .map(|value| value.get_name().to_owned())
                .unwrap_or_default();
            match alteration.apply(&body) {
                Ok(altered) => (altered, format!("#{seq} altered: {name}")),
                Err(Usage(why)) => return answer(StatusCode::UNPROCESSABLE_ENTITY, &why),
            }
        }
    };
    let (new, response) = console.inspect(parts, body, Some(origin.clone())).await;
    answer(
        StatusCode::OK,
        &format!(
            "{origin}: sent as #{new}, answered {}",
            response.status().as_u16()
        ),
    )
}

/// Saves a captured request as a fixture: the chosen JSON pointers and the token fields
/// redacted, so are the path's query secrets, the signature and credential headers dropped,
/// signed with the test secret; the file's path.
async fn save_fixture(
    State(console): State<Arc<Console>>,
    Path(seq): Path<u64>,
    body: Bytes,
) -> Response {
    let Some(capture) = console.captured(seq) else {
        return answer(StatusCode::NOT_FOUND, "no such capture");
    };
    let Some(sender) = capture.sender.as_deref() else {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the sender is unknown: only a built-in sender's request becomes a fixture",
        );
    };
    let Some(provider) = verihook::providers::find(sender) else {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "only a built-in sender's request becomes a fixture",
        );
    };
    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let pointers: Vec<String> = asked["redact"]
        .as_str()
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|pointer| !pointer.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = pointers.iter().find(|pointer| !pointer.starts_with('/')) {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("{bad:?} is not a JSON pointer (/data/object/email)"),
        );
    }
    let redaction = Redaction::new().sender(sender, pointers);
    let kept = redaction
        .apply(sender, &capture.body)
        .map_or(capture.body.clone(), Bytes::from);
    // The token fields the page hides are not kept either (a body that is not text is as it is).
    let kept = std::str::from_utf8(&kept).map_or(kept.clone(), |text| {
        Bytes::from(listen::redact_body_encoded(text))
    });
    let headers: Vec<(String, String)> = capture
        .parts
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !console.inspector.secret_header(name)
                && !listen::is_hop_by_hop(name)
                && name != "host"
                && name != "content-length"
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let path = listen::shown_url(
        capture
            .parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str()),
    );
    let event = capture
        .event_type
        .clone()
        .unwrap_or_else(|| provider.header_event().to_owned());
    let id = capture
        .id
        .clone()
        .unwrap_or_else(|| format!("fixture_{seq}"));
    let now = unix_seconds(SystemTime::now());
    let fixture = match verihook::testing::Fixture::new(
        sender,
        &path,
        &id,
        &event,
        &console.fixture_secret,
        now,
        headers,
        &kept,
    ) {
        Ok(fixture) => fixture,
        Err(error) => return answer(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    };
    let file = console
        .fixture_dir
        .join(format!("{}-{seq}-{now}.json", provider.name));
    let written = std::fs::create_dir_all(&console.fixture_dir)
        .and_then(|()| std::fs::write(&file, fixture.to_json()));
    match written {
        Ok(()) => answer(
            StatusCode::OK,
            &format!(
                "saved {} (replay: verihook send --fixture {} --url http://...)",
                file.display(),
                file.display()
            ),
        ),
        Err(error) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot write {}: {error}", file.display()),
        ),
    }
}

/// The inbox, when the console was given one.
fn inbox_of(console: &Console) -> Option<Arc<dyn Inbox>> {
    console.inbox.as_ref().map(|(inbox, _)| inbox.clone())
}

/// The answer when there is no inbox.
fn no_inbox() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "no inbox: start the console with --database-url or --redis-url",
    )
}

/// A table of rows of cells (each already escaped), with its heading cells.
fn table(id: &str, heads: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table id="{id}"><thead><tr>"#);
    for head in heads {
        let _ = write!(out, "<th>{}</th>", esc(head));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            r#"<tr><td colspan="{}" class="none">none</td></tr>"#,
            heads.len()
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A time as RFC 3339, seconds.
fn when(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A link to a stored event's own view.
fn event_link(key: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("key", key)
        .finish();
    format!(
        r#"<a href="{PREFIX}/inbox/event?{}">{}</a>"#,
        esc(&query),
        esc(&listen::printable(key))
    )
}

/// A button that POSTs `data` to an inbox action.
fn action_button(label: &str, action: &str, name: &str, value: &str) -> String {
    format!(
        r#"<button type="button" class="action" data-action="{PREFIX}/inbox/{action}" data-{name}="{}">{}</button>"#,
        esc(value),
        esc(label)
    )
}

fn text(value: Option<&str>) -> String {
    esc(&listen::printable(value.unwrap_or("")))
}

async fn inbox_page(State(console): State<Arc<Console>>) -> Response {
    let Some(inbox) = inbox_of(&console) else {
        return no_inbox();
    };
    match inbox_content(&*inbox).await {
        Ok(content) => frame(&console, "inbox", "Inbox", &content),
        Err(error) => answer(StatusCode::SERVICE_UNAVAILABLE, &error),
    }
}

async fn inbox_content(inbox: &dyn Inbox) -> Result<String, String> {
    let failed = |e: verihook::idempotency::StoreError| e.to_string();
    let stats = inbox.stats().await.map_err(failed)?;
    let mut out = String::new();
    out.push_str(&table(
        "stats",
        &["Pending", "In flight", "Done", "Dead", "Oldest pending"],
        &[vec![
            stats.pending.to_string(),
            stats.in_flight.to_string(),
            stats.done.to_string(),
            stats.dead.to_string(),
            stats
                .oldest_pending_secs
                .map_or("-".to_owned(), |secs| format!("{secs} s")),
        ]],
    ));
    let states = [
        Status::Pending,
        Status::Leased,
        Status::Done,
        Status::Superseded,
        Status::Dead,
    ];
    let mut by_sender: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    let mut found: Vec<Vec<Stored>> = Vec::new();
    for (n, status) in states.iter().enumerate() {
        let filter = verihook::inbox::Filter::new()
            .status(*status)
            .limit(PAGE_ROWS);
        let stored = inbox.find(&filter).await.map_err(failed)?;
        for event in &stored {
            by_sender.entry(event.sender.clone()).or_default()[n] += 1;
        }
        found.push(stored);
    }
    let count = |n: usize| {
        if n >= PAGE_ROWS {
            format!("{n}+")
        } else {
            n.to_string()
        }
    };
    out.push_str("<h3>By sender</h3>");
    let rows: Vec<Vec<String>> = by_sender
        .iter()
        .map(|(sender, counts)| {
            std::iter::once(text(Some(sender)))
                .chain(counts.iter().map(|n| count(*n)))
                .collect()
        })
        .collect();
    out.push_str(&table(
        "senders",
        &["Sender", "Pending", "Leased", "Done", "Superseded", "Dead"],
        &rows,
    ));
    out.push_str("<h3>Issues</h3>");
    let issues = inbox.issues(100).await.map_err(failed)?;
    let rows: Vec<Vec<String>> = issues
        .iter()
        .map(|issue| {
            vec![
                esc(&issue.id),
                text(Some(&issue.sender)),
                text(issue.route.as_deref()),
                text(Some(&issue.error)),
                issue.count.to_string(),
                when(issue.first_seen),
                when(issue.last_seen),
                action_button("Retry all", "retry", "issue", &issue.id),
            ]
        })
        .collect();
    out.push_str(&table(
        "issues",
        &[
            "Issue",
            "Sender",
            "Route",
            "Error",
            "Dead letters",
            "First",
            "Last",
            "",
        ],
        &rows,
    ));
    out.push_str("<h3>Dead letters</h3>");
    out.push_str(&stored_table("dead", &found[4], true));
    out.push_str("<h3>Pending</h3>");
    out.push_str(&stored_table("pending", &found[0], false));
    out.push_str(&format!(
        r#"<h3>Replay</h3>
<p class="hint">Puts the settled events the selection takes back to work, as <code>verihook inbox replay</code> does.</p>
<div id="replay" class="filters">
<label>Sender <input name="sender" autocomplete="off"></label>
<label>Type <input name="type" autocomplete="off"></label>
<label>State <select name="status"><option value="">any settled</option><option value="done">done</option><option value="dead">dead</option><option value="superseded">superseded</option></select></label>
<label>Since <input name="since" placeholder="2h" autocomplete="off"></label>
<button type="button" class="action" data-action="{PREFIX}/inbox/replay" data-form="replay">Replay</button>
</div>"#
    ));
    Ok(out)
}

/// Stored events as a table, with a retry button each for dead letters.
fn stored_table(id: &str, stored: &[Stored], retry: bool) -> String {
    let rows: Vec<Vec<String>> = stored
        .iter()
        .take(100)
        .map(|event| {
            let mut row = vec![
                event_link(&event.key),
                text(Some(&event.sender)),
                text(event.event_type.as_deref()),
                event.attempts.to_string(),
                text(event.last_error.as_deref()),
                when(event.enqueued_at),
            ];
            if retry {
                row.push(action_button("Retry", "retry", "key", &event.key));
            }
            row
        })
        .collect();
    let mut heads = vec!["Key", "Sender", "Type", "Attempts", "Last error", "Stored"];
    if retry {
        heads.push("");
    }
    table(id, &heads, &rows)
}

/// One stored event as the page shows it.
#[derive(Default)]
struct EventView {
    key: String,
    sender: String,
    id: Option<String>,
    event_type: Option<String>,
    state: String,
    attempts: u32,
    last_error: Option<String>,
    issue: Option<String>,
    enqueued_at: Option<SystemTime>,
    replays: u32,
    replay_reason: Option<String>,
    redacted: bool,
    body: Option<Vec<u8>>,
    traceparent: Option<String>,
}

async fn event_page(State(console): State<Arc<Console>>, uri: Uri) -> Response {
    let Some(inbox) = inbox_of(&console) else {
        return no_inbox();
    };
    let key = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "key")
        .map(|(_, key)| key.into_owned())
        .unwrap_or_default();
    let postgres = console.inbox.as_ref().and_then(|(_, pg)| pg.clone());
    let found = match postgres {
        Some(pg) => stored_row(&pg, &console.table, &key).await,
        None => stored_found(&*inbox, &key).await,
    };
    let view = match found {
        Ok(Some(view)) => view,
        Ok(None) => return answer(StatusCode::NOT_FOUND, "no stored event has this key"),
        Err(error) => return answer(StatusCode::SERVICE_UNAVAILABLE, &error),
    };
    let stored = &view;
    let trace = view
        .traceparent
        .as_deref()
        .and_then(|t| t.split('-').nth(1))
        .unwrap_or("-");
    let mut content = String::from(r#"<dl id="event">"#);
    let fields = [
        ("Key", text(Some(&stored.key))),
        ("Sender", text(Some(&stored.sender))),
        ("Event id", text(stored.id.as_deref())),
        ("Type", text(stored.event_type.as_deref())),
        (
            "State",
            format!(r#"<span id="state">{}</span>"#, esc(&stored.state)),
        ),
        ("Attempts", stored.attempts.to_string()),
        ("Last error", text(stored.last_error.as_deref())),
        ("Issue", text(stored.issue.as_deref())),
        ("Stored", stored.enqueued_at.map(when).unwrap_or_default()),
        ("Replays", stored.replays.to_string()),
        ("Replay reason", text(stored.replay_reason.as_deref())),
        ("Trace id", esc(trace)),
        (
            "Redacted when stored",
            if stored.redacted { "yes" } else { "no" }.to_owned(),
        ),
    ];
    for (name, value) in fields {
        let _ = write!(content, "<dt>{name}</dt><dd>{value}</dd>");
    }
    content.push_str("</dl>");
    if stored.state == Status::Dead.as_str() {
        content.push_str(&action_button("Retry", "retry", "key", &stored.key));
    }
    match &view.body {
        Some(body) => {
            let shown = &body[..body.len().min(BODY_SHOWN)];
            let text = shown_text(&listen::redact_body(&String::from_utf8_lossy(shown)));
            let _ = write!(
                content,
                r#"<h3>Payload ({} bytes, token fields redacted)</h3><pre id="payload">{}</pre>"#,
                body.len(),
                esc(&text)
            );
        }
        None => content
            .push_str(r#"<p class="hint">The payload is shown for a PostgreSQL inbox only.</p>"#),
    }
    frame(&console, "event", "Stored event", &content)
}

/// A stored event read from the PostgreSQL table: its state and log, its body and trace.
async fn stored_row(
    inbox: &PostgresInbox,
    table: &str,
    key: &str,
) -> Result<Option<EventView>, String> {
    use sqlx::Row as _;
    let row = sqlx::query(&format!(
        "SELECT sender, event_id, event_type, state, attempts, last_error, issue, traceparent,
                redacted, body, replays, replay_reason,
                (extract(epoch FROM enqueued_at) * 1000)::bigint AS enqueued_ms
         FROM {table} WHERE key = $1"
    ))
    .bind(key.as_bytes())
    .fetch_optional(inbox.pool())
    .await
    .map_err(|e| e.to_string())?;
    let Some(row) = row else { return Ok(None) };
    let read = |row: &sqlx::postgres::PgRow| -> Result<EventView, sqlx::Error> {
        let bytes_text = |name: &str| -> Result<Option<String>, sqlx::Error> {
            let value: Option<Vec<u8>> = row.try_get(name)?;
            Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
        };
        let millis = |name: &str| -> Result<Option<SystemTime>, sqlx::Error> {
            let value: Option<i64> = row.try_get(name)?;
            Ok(value.map(|ms| {
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or_default())
            }))
        };
        let attempts: i32 = row.try_get("attempts")?;
        let replays: i32 = row.try_get("replays")?;
        Ok(EventView {
            key: key.to_owned(),
            sender: row.try_get("sender")?,
            id: bytes_text("event_id")?,
            event_type: bytes_text("event_type")?,
            state: row.try_get("state")?,
            attempts: u32::try_from(attempts).unwrap_or_default(),
            last_error: row.try_get("last_error")?,
            issue: row.try_get("issue")?,
            enqueued_at: millis("enqueued_ms")?,
            replays: u32::try_from(replays).unwrap_or_default(),
            replay_reason: row.try_get("replay_reason")?,
            redacted: row.try_get("redacted")?,
            body: Some(row.try_get("body")?),
            traceparent: row.try_get("traceparent")?,
        })
    };
    read(&row).map(Some).map_err(|e| e.to_string())
}

/// A stored event found among the inbox's entries (no body: the trait gives none).
async fn stored_found(inbox: &dyn Inbox, key: &str) -> Result<Option<EventView>, String> {
    let filter = verihook::inbox::Filter::new().limit(verihook::inbox::MAX_BATCH);
    let stored = inbox.find(&filter).await.map_err(|e| e.to_string())?;
    Ok(stored
        .into_iter()
        .find(|stored| stored.key == key)
        .map(|stored| EventView {
            state: stored.status.as_str().to_owned(),
            attempts: stored.attempts,
            enqueued_at: Some(stored.enqueued_at),
            replays: stored.replays,
            redacted: stored.redacted,
            key: stored.key,
            sender: stored.sender,
            id: stored.id,
            event_type: stored.event_type,
            last_error: stored.last_error,
            issue: stored.issue,
            replay_reason: stored.replay_reason,
            ..EventView::default()
        }))
}

/// Retries one dead letter (`{"key":..}`, as `inbox retry KEY`) or an issue's
/// (`{"issue":..}`, as `inbox retry --issue ID`).
async fn retry(State(console): State<Arc<Console>>, body: Bytes) -> Response {
    let Some(inbox) = inbox_of(&console) else {
        return no_inbox();
    };
    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(key) = asked["key"].as_str() {
        return match inbox.requeue(key).await {
            Ok(true) => answer(
                StatusCode::OK,
                &format!("requeued {}", listen::printable(key)),
            ),
            Ok(false) => answer(StatusCode::NOT_FOUND, "no dead letter has this key"),
            Err(error) => answer(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
        };
    }
    if let Some(issue) = asked["issue"].as_str() {
        return match inbox_command::retry_issue(&*inbox, issue).await {
            Ok(0) => answer(
                StatusCode::NOT_FOUND,
                "no dead letter belongs to this issue",
            ),
            Ok(n) => answer(
                StatusCode::OK,
                &format!("requeued {n} dead letters of the issue"),
            ),
            Err(error) => answer(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
        };
    }
    answer(StatusCode::BAD_REQUEST, "give a key or an issue")
}

/// Replays the settled events a selection takes, as `inbox replay` does.
async fn replay(State(console): State<Arc<Console>>, body: Bytes) -> Response {
    let Some(inbox) = inbox_of(&console) else {
        return no_inbox();
    };
    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |name: &str| {
        asked[name]
            .as_str()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let select = Select {
        sender: field("sender"),
        event_type: field("type"),
        since: field("since"),
        status: field("status"),
        ..Select::default()
    };
    let limit = 1000;
    let filter = match select.filter(limit) {
        Ok(filter) => filter,
        Err(why) => return answer(StatusCode::UNPROCESSABLE_ENTITY, &why),
    };
    match inbox_command::replay(&*inbox, filter, limit, "replayed from the console").await {
        Ok(n) => answer(StatusCode::OK, &format!("replayed {n} events")),
        Err(error) => answer(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_controls_are_shown() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        let shown = shown_text("a\tb\r\nc\u{202e}d\u{1b}");
        assert!(shown.starts_with("a\tb\\u{d}\nc"), "{shown}");
        assert!(
            !shown.contains('\u{202e}') && !shown.contains('\u{1b}'),
            "{shown}"
        );
    }

    #[test]
    fn the_budget_counts_views_and_headers_not_only_bodies() {
        // Empty bodies, large headers and views: 500 of them would hold about 200 MB.
        let big = "x".repeat(200 << 10);
        let view: Arc<str> = Arc::from(big.as_str());
        let mut headers = HeaderMap::new();
        headers.insert("x-padding", HeaderValue::from_str(&big).unwrap());
        let mut captures = VecDeque::new();
        for seq in 0..500 {
            captures.push_back(Capture {
                seq,
                method: Method::POST,
                uri: Uri::from_static("/hook"),
                headers: headers.clone(),
                body: Bytes::new(),
                sender: None,
                id: None,
                event_type: None,
                view: view.clone(),
            });
            keep_within(&mut captures);
        }
        let held: usize = captures
            .iter()
            .map(|c| c.view.len() + c.headers.iter().map(|(_, v)| v.len()).sum::<usize>())
            .sum();
        assert!(held <= KEPT_BYTES, "{held} bytes held");
        assert!(captures.len() > 1, "{} kept", captures.len());
        assert_eq!(
            captures.back().map(|c| c.seq),
            Some(499),
            "the newest stays"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
    }
}
