//! `verihook console`: its guard (the bound `Host` only, actions by POST with the run's token,
//! a strict Content-Security-Policy, bodies as text), and its pages in a real headless Chromium
//! driven through WebDriver.
//!
//! The browser tests are `#[ignore]`d: they need `/usr/bin/chromedriver` (Debian's `chromium`
//! and `chromium-driver`) and, for the inbox, PostgreSQL at `TEST_DATABASE_URL`; `.ci/run`
//! installs the first and runs them with `--ignored`, where a missing driver fails them. Each
//! writes a screenshot of the pages it saw to `target/console-screenshots/`.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../../tests/support/inbox_kit.rs"]
#[allow(dead_code)]
mod inbox_kit;

/// The Stripe secret the console verifies with: it must never reach the page.
const SECRET: &str = "whsec_Y29uc29sZSB0ZXN0IHNlY3JldCwgbmV2ZXIgc2hvd24=";
/// Another secret, as a sender with the wrong one would sign.
const WRONG: &str = "whsec_YW5vdGhlciBzZWNyZXQsIHdyb25nIGZvciB0aGlzIGNvbnNvbGU=";

/// The W3C trace context the inbox's deliveries arrive with.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A running `verihook console`, stopped when dropped.
struct Console {
    child: Child,
    addr: String,
    fixtures: PathBuf,
}

impl Console {
    fn start(args: &[&str]) -> Self {
        Self::verifying_with(SECRET, args)
    }

    /// A console verifying Stripe's webhooks with `secret`.
    fn verifying_with(secret: &str, args: &[&str]) -> Self {
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let fixtures =
            std::env::temp_dir().join(format!("verihook-console-{}-{n}", std::process::id()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_verihook"));
        command.args(["console", "--port", "0"]);
        command.arg("--fixture-dir").arg(&fixtures).args(args);
        command.env("STRIPE_WEBHOOK_SECRET", secret);
        // The inbox pages only when a test asks for them.
        for variable in ["DATABASE_URL", "REDIS_URL"] {
            command.env_remove(variable);
        }
        Self::running(command, fixtures).0
    }

    /// `command` (`verihook console` or `listen`) started; it, and the start-up line it said.
    fn running(mut command: Command, fixtures: PathBuf) -> (Self, String) {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        // "verihook console: http://127.0.0.1:PORT/_console/ ; ..."
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        stderr.read_line(&mut said).unwrap();
        let at = said
            .find("127.0.0.1:")
            .unwrap_or_else(|| panic!("{said:?}"));
        let addr: String = said[at..].chars().take_while(|c| *c != '/').collect();
        let running = Self {
            child,
            addr,
            fixtures,
        };
        (running, said)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The run's token, as the live page carries it.
    fn token(&self) -> String {
        let (_, _, page) = self.raw("GET", "/_console/", &self.addr, &[], "");
        page.split(r#"name="console-token" content=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned()
    }

    /// An action as the page takes it: POST with the run's token; its status and answer.
    fn act(&self, path: &str, body: &str) -> (u16, String) {
        let token = self.token();
        let (status, _, answer) = self.raw(
            "POST",
            path,
            &self.addr,
            &[("X-Console-Token", &token)],
            body,
        );
        (status, answer)
    }

    /// One HTTP/1.1 request written by hand (any `Host`); status, head and body.
    fn raw(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    /// `verihook send` to this console, with `args`; its exit status.
    fn send(&self, args: &[&str]) -> Option<i32> {
        Command::new(env!("CARGO_BIN_EXE_verihook"))
            .args(["send", "--url", &self.url("/webhooks/stripe")])
            .args(args)
            .env_remove("VERIHOOK_SECRET")
            .output()
            .unwrap()
            .status
            .code()
    }

    /// The (first) fixture the console saved.
    fn fixture_file(&self) -> PathBuf {
        std::fs::read_dir(&self.fixtures)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// The captures the console holds, as the page reads them.
    fn captures(&self) -> Vec<Value> {
        let (_, _, body) = self.raw("GET", "/_console/captures", &self.addr, &[], "");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.fixtures);
    }
}

#[test]
fn a_foreign_host_is_refused() {
    let console = Console::start(&[]);
    let port = console.addr.rsplit(':').next().unwrap().to_owned();
    for host in [
        format!("attacker.example:{port}"),
        "127.0.0.1".to_owned(),
        format!("127.0.0.2:{port}"),
        String::new(),
    ] {
        for path in ["/_console/", "/_console/captures", "/_console/feed"] {
            let (status, _, _) = console.raw("GET", path, &host, &[], "");
            assert_eq!(status, 421, "Host {host:?} on {path}");
        }
    }
    let (status, _, _) = console.raw("GET", "/_console/", &console.addr, &[], "");
    assert_eq!(status, 200);
    let (status, _, _) = console.raw("GET", "/_console/", &format!("localhost:{port}"), &[], "");
    assert_eq!(status, 200);
}

#[test]
fn actions_need_post_the_runs_token_and_the_same_origin() {
    let console = Console::start(&[]);
    assert_eq!(console.send(&["-p", "stripe", "-s", SECRET]), Some(0));
    let token = console.token();
    let host = console.addr.clone();
    let alter = "/_console/captures/1/alter/pretty";
    let (status, _, _) = console.raw("POST", alter, &host, &[], "");
    assert_eq!(status, 403, "no token");
    let (status, _, _) = console.raw("POST", alter, &host, &[("X-Console-Token", "0123")], "");
    assert_eq!(status, 403, "a wrong token");
    let wrong = format!("{}0", &token[..token.len() - 1]);
    let wrong = if wrong == token {
        format!("{}1", &token[..token.len() - 1])
    } else {
        wrong
    };
    let (status, _, _) = console.raw("POST", alter, &host, &[("X-Console-Token", &wrong)], "");
    assert_eq!(status, 403, "a token one digit off");
    let (status, _, _) = console.raw("GET", alter, &host, &[], "");
    assert_eq!(status, 405, "an action by GET");
    let (status, _, _) = console.raw(
        "POST",
        alter,
        &host,
        &[
            ("X-Console-Token", &token),
            ("Origin", "http://attacker.example"),
        ],
        "",
    );
    assert_eq!(status, 403, "another origin");
    assert_eq!(console.captures().len(), 1, "no refused action ran");

    let origin = format!("http://{host}");
    let (status, _, body) = console.raw(
        "POST",
        alter,
        &host,
        &[("X-Console-Token", &token), ("Origin", &origin)],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let captures = console.captures();
    assert_eq!(captures.len(), 2);
    let altered = &captures[1];
    assert_eq!(altered["origin"], "#1 altered: pretty");
    assert_eq!(altered["report"]["error"], "bad_signature");
    let causes: Vec<&str> = altered["report"]["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"body_reserialized"), "{causes:?}");
}

#[test]
fn every_console_answer_carries_a_strict_content_security_policy() {
    let console = Console::start(&[]);
    for path in [
        "/_console/",
        "/_console/app.js",
        "/_console/style.css",
        "/_console/captures",
    ] {
        let (status, head, _) = console.raw("GET", path, &console.addr, &[], "");
        assert_eq!(status, 200, "{path}");
        let csp = head
            .lines()
            .find_map(|line| line.strip_prefix("content-security-policy: "))
            .unwrap_or_else(|| panic!("no CSP on {path}: {head}"));
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    }
    // The refusals carry it too.
    let (_, head, _) = console.raw("GET", "/_console/", "attacker.example", &[], "");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
}

#[test]
fn bodies_and_headers_are_shown_as_text_and_secrets_never() {
    let console = Console::start(&[]);
    let hostile = r#"{"note":"</pre><script>alert(1)</script><img src=x onerror=alert(2)>","token":"legacy-token-value"}"#;
    let (status, _, _) = console.raw(
        "POST",
        "/hooks/evil",
        &console.addr,
        &[
            ("Content-Type", "application/json"),
            ("X-Note", "<b onmouseover=alert(3)>hi</b>"),
            ("Authorization", "Bearer top-secret-bearer"),
        ],
        hostile,
    );
    assert_eq!(status, 400, "unsigned: rejected");
    assert_eq!(console.send(&["-p", "stripe", "-s", SECRET]), Some(0));
    let (_, _, page) = console.raw("GET", "/_console/", &console.addr, &[], "");
    assert!(
        !page.contains("alert("),
        "the page is rendered without the data"
    );
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the console's own script"
    );
    let (_, _, captures) = console.raw("GET", "/_console/captures", &console.addr, &[], "");
    // JSON strings: the markup is data, and what is secret is gone.
    assert!(
        captures.contains(r#"<script>alert(1)</script>"#),
        "{captures}"
    );
    for secret in [SECRET, "top-secret-bearer", "legacy-token-value", "v1="] {
        assert!(!captures.contains(secret), "{secret} in {captures}");
    }
    let (_, _, script) = console.raw("GET", "/_console/app.js", &console.addr, &[], "");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!script.contains(sink), "the script uses {sink}");
    }
}

#[test]
fn resend_passes_a_capture_on_to_the_forward_target_again() {
    let app = Console::start(&[]);
    let console = Console::start(&["--forward", &app.url("")]);
    assert_eq!(console.send(&["-p", "stripe", "-s", SECRET]), Some(0));
    assert_eq!(app.captures().len(), 1, "forwarded");
    let (status, answer) = console.act("/_console/captures/1/resend", "");
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.contains("resend of #1: sent as #2, answered 200"),
        "{answer}"
    );
    let resent = &console.captures()[1];
    assert_eq!(resent["origin"], "resend of #1");
    assert_eq!(resent["report"]["forwarded"]["status"], 200);
    let at_app = app.captures();
    assert_eq!(at_app.len(), 2, "the app got it again");
    assert_eq!(at_app[1]["report"]["id"], at_app[0]["report"]["id"]);

    // Without a forward target there is nowhere to resend to.
    assert_eq!(app.act("/_console/captures/1/resend", "").0, 409);
}

#[test]
fn a_capture_saved_as_a_fixture_is_replayed_by_send() {
    let console = Console::start(&[]);
    assert_eq!(console.send(&["-p", "stripe", "-s", SECRET]), Some(0));
    let (status, answer) = console.act(
        "/_console/captures/1/fixture",
        r#"{"redact":"/data/object/customer"}"#,
    );
    assert_eq!(status, 200, "{answer}");
    let file = console.fixture_file();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(SECRET),
        "the fixture is signed with the test secret"
    );
    assert!(
        !text.contains("cus_Demo"),
        "the chosen field is redacted: {text}"
    );
    let fixture = verihook::testing::Fixture::load(&file).unwrap();
    assert!(fixture.body.contains(r#""customer":"[redacted]""#));

    // A receiver with the fixture's test secret accepts it, signed again now.
    let replay = Console::verifying_with(fixture.secret(), &[]);
    let sent = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args(["send", "--fixture"])
        .arg(&file)
        .args(["--url", &replay.url("/webhooks/stripe")])
        .output()
        .unwrap();
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    let captures = replay.captures();
    assert_eq!(captures[0]["report"]["ok"], true, "{captures:?}");
    assert_eq!(captures[0]["report"]["type"], "invoice.paid");
}

/// A tiny app that answers every request with HTML carrying a script and a cookie; its address.
fn html_app() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let length: usize = text
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = stream.read_exact(&mut body);
            let page = "<script>fetch('/_console/')</script>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: session=app-cookie\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    addr
}

/// `verihook listen` (or `console`) with `args` and no secret; it, and its start-up line.
fn bare(command: &str, args: &[&str]) -> (Console, String) {
    let mut started = Command::new(env!("CARGO_BIN_EXE_verihook"));
    started
        .args([command, "--port", "0"])
        .args(args)
        .env_remove("STRIPE_WEBHOOK_SECRET");
    Console::running(started, std::env::temp_dir().join("verihook-console-none"))
}

#[test]
fn forwarded_answers_are_sandboxed_and_set_no_cookie() {
    let app = html_app();
    let forward = format!("http://{app}");
    let console = Console::start(&["--forward", &forward]);
    let (by_listen, _) = bare("listen", &["--forward", &forward]);
    // Without forwarding, the receiver's own answers carry the same.
    let plain = Console::start(&[]);
    for (who, server, forwarding) in [
        ("console", &console, true),
        ("listen", &by_listen, true),
        ("console without --forward", &plain, false),
    ] {
        for (method, path) in [("POST", "/hooks/page"), ("GET", "/_console/nothing-here")] {
            let (_, head, body) = server.raw(method, path, &server.addr, &[], "");
            assert_eq!(body.contains("<script>"), forwarding, "{who}: {body}");
            for wanted in [
                "content-security-policy: sandbox; default-src 'none'",
                "x-content-type-options: nosniff",
                "cross-origin-resource-policy: same-origin",
            ] {
                assert!(head.contains(wanted), "{who} {path}: {wanted} in {head}");
            }
            assert!(!head.contains("set-cookie"), "{who} {path}: {head}");
        }
    }
}

#[test]
fn a_fixture_keeps_no_token_field_no_secret_query_and_no_signature() {
    let console = Console::start(&[]);
    let body = r#"{"token":"xoxb-secret-field","type":"event_callback","team_id":"T1"}"#;
    let (status, _, _) = console.raw(
        "POST",
        "/webhooks/slack?token=abc-query-secret&team=T1",
        &console.addr,
        &[
            ("Content-Type", "application/json"),
            ("Stripe-Signature", "t=1,v1=stripe-sig-value"),
        ],
        body,
    );
    assert_eq!(status, 401, "signed with nothing valid");
    let (status, answer) = console.act("/_console/captures/1/fixture", "{}");
    assert_eq!(status, 200, "{answer}");
    let file = console.fixture_file();
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in ["xoxb-secret-field", "abc-query-secret", "stripe-sig-value"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(
        text.contains("event_callback") && text.contains("team=T1"),
        "{text}"
    );
}

#[test]
fn forward_credentials_and_query_secrets_never_reach_the_page() {
    let app = Console::start(&[]);
    let port = app.addr.rsplit(':').next().unwrap().to_owned();
    let forward = format!("http://someone:forward-pass-word@127.0.0.1:{port}");
    let (console, said) = bare("console", &["--forward", &forward]);
    console.raw(
        "POST",
        "/hook?token=q-token-1&code=q-code-2&api_key=q-key-3&secret=q-secret-4&signature=q-sig-5&password=q-pass-6&page=2",
        &console.addr,
        &[],
        "{}",
    );
    let (_, _, page) = console.raw("GET", "/_console/", &console.addr, &[], "");
    let (_, _, captures) = console.raw("GET", "/_console/captures", &console.addr, &[], "");
    for shown in [&said, &page, &captures] {
        assert!(!shown.contains("forward-pass-word"), "{shown}");
        for secret in [
            "q-token-1",
            "q-code-2",
            "q-key-3",
            "q-secret-4",
            "q-sig-5",
            "q-pass-6",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    assert!(captures.contains("page=2"), "{captures}");
    assert!(captures.contains("127.0.0.1:"), "{captures}");
}

/// A W3C WebDriver session with a headless Chromium, over HTTP.
struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver on a free port and opens a session; panics (the test fails) when
    /// chromedriver is missing.
    fn start() -> Self {
        let path = "/usr/bin/chromedriver";
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut browser = Self {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let ready = |browser: &Self| {
            let answer = browser.agent.get(format!("{}/status", browser.base)).call();
            answer
                .ok()
                .and_then(|mut answer| answer.body_mut().read_to_string().ok())
                .is_some_and(|text| {
                    serde_json::from_str::<Value>(&text).is_ok_and(|v| v["value"]["ready"] == true)
                })
        };
        while !ready(&browser) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let session = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1500,1300"
                ]}
            }}})),
        );
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let text = response.unwrap().body_mut().read_to_string().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        if let Some(error) = value["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                value["value"]["message"]
            );
        }
        value["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|element| element[ELEMENT].as_str().unwrap().to_owned())
        .collect()
    }

    /// The elements `css` selects, once there are `count` of them.
    fn wait_for(&self, css: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.find_all(css);
            if found.len() == count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{count} of {css} expected, {} found",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the first element `css` selects within `element` (or the page), its white
    /// space squashed to single spaces.
    fn text(&self, within: Option<&str>, css: &str) -> String {
        let path = within.map_or("/elements".to_owned(), |e| format!("/element/{e}/elements"));
        let found = self.call(
            "POST",
            &path,
            Some(json!({"using": "css selector", "value": css})),
        );
        let element = found[0][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no {css}"))
            .to_owned();
        self.text_of(&element)
    }

    fn text_of(&self, element: &str) -> String {
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn click(&self, element: &str) {
        self.call("POST", &format!("/element/{element}/click"), None);
    }

    fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Writes a screenshot of the window to `target/console-screenshots/<name>.png`.
    fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/console-screenshots"
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
#[ignore = "needs /usr/bin/chromedriver (chromium-driver); .ci/run installs it and runs this"]
fn the_live_page_shows_each_webhook_with_its_verdict_and_no_secret() {
    let console = Console::start(&[]);
    let browser = Browser::start();
    browser.go(&console.url("/_console/"));
    browser.wait_for("#empty", 1);

    // Authentic; re-serialised after signing; signed with the wrong secret; unsigned (and
    // carrying markup).
    assert_eq!(console.send(&["-p", "stripe", "-s", SECRET]), Some(0));
    assert_eq!(
        console.send(&["-p", "stripe", "-s", SECRET, "--alter", "pretty"]),
        Some(1)
    );
    assert_eq!(console.send(&["-p", "stripe", "-s", WRONG]), Some(1));
    let unsigned = r#"{"id":"evt_unsigned","note":"<img src=x onerror=window.pwned=1><script>window.pwned=2</script>"}"#;
    let (status, _, _) = console.raw(
        "POST",
        "/webhooks/stripe",
        &console.addr,
        &[("Content-Type", "application/json")],
        unsigned,
    );
    assert_eq!(status, 400);

    let rows = browser.wait_for("#captures tr.capture", 4);
    // Newest first.
    let verdicts: Vec<String> = rows
        .iter()
        .map(|row| browser.text(Some(row), ".verdict .badge"))
        .collect();
    assert_eq!(
        verdicts,
        [
            "rejected: missing_header",
            "rejected: bad_signature",
            "rejected: bad_signature",
            "authentic"
        ]
    );
    let reserialized = browser.text(Some(&rows[2]), ".diagnosis");
    assert!(reserialized.contains("body_reserialized"), "{reserialized}");
    assert!(
        reserialized.contains("verify the raw bytes"),
        "{reserialized}"
    );
    let wrong = browser.text(Some(&rows[1]), ".diagnosis");
    assert!(!wrong.contains("body_reserialized"), "{wrong}");

    // Open the authentic one: its signature header is redacted; its body is shown.
    browser.click(&rows[3]);
    let details = browser.wait_for("tr.detail:not([hidden])", 1);
    let headers = browser.text(Some(&details[0]), "table.headers");
    assert!(headers.contains("stripe-signature [redacted]"), "{headers}");
    assert!(browser
        .text(Some(&details[0]), ".body-raw")
        .contains("invoice.paid"));
    // Open the unsigned one: its markup is text.
    browser.click(&rows[0]);
    browser.wait_for("tr.detail:not([hidden])", 2);
    let body = browser.text(None, "tr.detail:not([hidden]) .body-raw");
    assert!(body.contains("<script>window.pwned=2</script>"), "{body}");
    assert_eq!(
        browser.script(
            "return [window.pwned === undefined, \
             document.querySelectorAll('#captures img, #captures script').length]"
        ),
        json!([true, 0])
    );

    let source = browser.source();
    for secret in [
        SECRET,
        WRONG,
        "v1=",
        "Y29uc29sZSB0ZXN0IHNlY3JldCwgbmV2ZXIgc2hvd24",
    ] {
        assert!(!source.contains(secret), "{secret} is in the page");
    }
    browser.screenshot("live");

    // Filter: the rejected ones only, then one sender.
    browser.click(&browser.find_all("#filter-verdict option[value=rejected]")[0]);
    assert_eq!(
        browser.find_all("#captures tr.capture:not([hidden])").len(),
        3
    );
    browser.click(&browser.find_all("#filter-verdict option[value=authentic]")[0]);
    assert_eq!(
        browser.find_all("#captures tr.capture:not([hidden])").len(),
        1
    );
    browser.screenshot("live-filtered");

    // Resend the authentic one altered: a fifth row, rejected, its diagnosis given.
    browser.click(&browser.find_all("#filter-verdict option[value='']")[0]);
    let open = browser.find_all("tr.detail:not([hidden])");
    let authentic = open.last().unwrap();
    browser.click(&browser.find_all("tr.detail:not([hidden]) option[value=compact]")[1]);
    let alter = browser.call(
        "POST",
        &format!("/element/{authentic}/elements"),
        Some(json!({"using": "css selector", "value": "button.alter"})),
    )[0][ELEMENT]
        .as_str()
        .unwrap()
        .to_owned();
    browser.click(&alter);
    let rows = browser.wait_for("#captures tr.capture", 5);
    assert!(browser
        .text(Some(&rows[0]), ".origin")
        .contains("#1 altered: compact"));
    assert!(browser
        .text(None, "#result")
        .contains("#1 altered: compact: sent as #5"));
}

#[test]
#[ignore = "needs /usr/bin/chromedriver and PostgreSQL at TEST_DATABASE_URL; .ci/run runs it"]
fn the_inbox_page_retries_a_dead_letter_and_shows_it_done() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use verihook::inbox::{Inbox, PostgresInbox, Worker};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL must name the PostgreSQL database this test runs against");
    let table = format!(
        "console_test_{}",
        verihook::idempotency::ClaimToken::generate().as_str()
    );
    let inbox: Arc<PostgresInbox> = runtime.block_on(async {
        let inbox = PostgresInbox::connect(&url)
            .await
            .unwrap()
            .with_table(&table)
            .unwrap();
        inbox.create_table().await.unwrap();
        Arc::new(inbox)
    });
    let failing = Arc::new(AtomicBool::new(true));
    let fails = failing.clone();
    let worker = Worker::builder(inbox.clone() as Arc<dyn Inbox>)
        .max_attempts(1)
        .handler(move |_delivery| {
            let fail = fails.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err(verihook::HandlerError::from(
                        "the ledger for order 7 is closed",
                    ))
                } else {
                    Ok(())
                }
            }
        })
        .build()
        .unwrap();
    runtime.block_on(async {
        let receiver = inbox_kit::receiver(inbox.clone());
        for id in ["evt_paid", "evt_dead"] {
            let (mut headers, body) = inbox_kit::delivery(id);
            headers.insert("traceparent", TRACEPARENT.parse().unwrap());
            receiver.handle(&headers, body).await;
        }
        inbox_kit::drain(&worker, &*inbox, Duration::from_secs(10)).await;
    });

    // The table is dropped whatever happens in the browser.
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let console = Console::start(&["--database-url", &url, "--table", &table]);
        let browser = Browser::start();
        browser.go(&console.url("/_console/inbox"));
        browser.wait_for("#stats", 1);
        assert_eq!(browser.text(None, "#stats tbody"), "0 0 0 2 -");
        let issue = browser.text(None, "#issues tbody");
        assert!(
            issue.contains("the ledger for order … is closed"),
            "{issue}"
        );
        let dead = browser.text(None, "#dead tbody");
        assert!(
            dead.contains("stripe:evt_dead") && dead.contains("stripe:evt_paid"),
            "{dead}"
        );
        assert!(!browser.source().contains(inbox_kit::SECRET));
        browser.screenshot("inbox");

        // Retry one dead letter; the worker, now healthy, runs it.
        let retry = browser.find_all("#dead button.action");
        let keys: Vec<String> = browser
            .find_all("#dead tbody tr td:first-child")
            .iter()
            .map(|cell| browser.text_of(cell))
            .collect();
        let at = keys
            .iter()
            .position(|key| key == "stripe:evt_dead")
            .unwrap();
        browser.click(&retry[at]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !browser
            .text(None, "#result")
            .contains("requeued stripe:evt_dead")
        {
            assert!(Instant::now() < deadline, "no answer to the retry");
            std::thread::sleep(Duration::from_millis(100));
        }
        browser.screenshot("inbox-retried");
        failing.store(false, Ordering::SeqCst);
        runtime.block_on(inbox_kit::drain(&worker, &*inbox, Duration::from_secs(10)));

        browser.go(&console.url("/_console/inbox?"));
        browser.wait_for("#stats", 1);
        assert_eq!(browser.text(None, "#stats tbody"), "0 0 1 1 -");
        browser.screenshot("inbox-done");
        browser.go(&console.url("/_console/inbox/event?key=stripe%3Aevt_dead"));
        browser.wait_for("#event", 1);
        assert_eq!(browser.text(None, "#state"), "done");
        let payload = browser.text(None, "#payload");
        assert!(payload.contains("evt_dead"), "{payload}");
        let event = browser.text(None, "#event");
        assert!(event.contains("Attempts 1"), "{event}");
        assert!(
            event.contains("Trace id 4bf92f3577b34da6a3ce929d0e0e4736"),
            "{event}"
        );
        browser.screenshot("inbox-event");
    }));
    runtime.block_on(async {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}, {table}_applied"))
            .execute(inbox.pool())
            .await
            .unwrap();
    });
    if let Err(panic) = seen {
        std::panic::resume_unwind(panic);
    }
}
