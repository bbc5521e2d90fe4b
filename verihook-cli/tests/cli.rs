//! The `verihook` CLI contract: `verify` prints one JSON object and exits 0 or 1, `sign`
//! prints header lines that `verify` (and the providers' SDKs) accept, usage errors exit 2.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A declared scheme from the repository's examples.
const MUX_SCHEME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/schemes/mux.json");

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Signs `body`, then verifies it with the printed headers; returns verify's output.
fn sign_then_verify(
    provider: &str,
    sign_secret: &str,
    verify_secret: &str,
    body: &[u8],
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "sign",
        "--provider",
        provider,
        "--secret",
        sign_secret,
        "--timestamp",
        "1700000000",
    ];
    args.extend_from_slice(extra);
    let signed = run(&args, body);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let lines = String::from_utf8(signed.stdout).unwrap();
    let mut args = vec![
        "verify".to_owned(),
        "--provider".into(),
        provider.into(),
        "--secret".into(),
        verify_secret.into(),
        "--now".into(),
        "1700000100".into(),
    ];
    for line in lines.lines() {
        assert!(line.contains(": "), "{line}");
        args.push("-H".into());
        args.push(line.to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, body)
}

#[test]
fn verifies_githubs_documented_example() {
    let dir = std::env::temp_dir().join(format!("verihook-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body");
    std::fs::write(&file, "Hello, World!").unwrap();
    let out = run(
        &[
            "verify", "--provider", "github", "--secret", "It's a Secret to Everybody",
            "-H", "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "-H", "X-GitHub-Event: push", "-H", "X-GitHub-Delivery: d-1",
            "--body-file", file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        json(&out),
        serde_json::json!({"ok": true, "provider": "github", "id": "d-1", "type": "push", "timestamp": null})
    );
}

#[test]
fn round_trips_every_provider_name() {
    let body = br#"{"id":"evt_42","type":"invoice.paid"}"#;
    for (provider, secret, canonical) in [
        ("github", "cli-github-secret", "github"),
        ("stripe", "whsec_cli_stripe_secret", "stripe"),
        (
            "standard-webhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "standard-webhooks",
        ),
        (
            "standard",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "standard-webhooks",
        ),
        (
            "standardwebhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "standard-webhooks",
        ),
        (
            "svix",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "standard-webhooks",
        ),
    ] {
        let out = sign_then_verify(provider, secret, secret, body, &["--id", "msg_cli"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{provider}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report = json(&out);
        assert_eq!(report["ok"], true);
        assert_eq!(report["provider"], canonical);
        let expected_id = if provider == "stripe" {
            "evt_42"
        } else {
            "msg_cli"
        };
        assert_eq!(report["id"], expected_id, "{provider}");
        if provider != "github" {
            assert_eq!(report["timestamp"], 1_700_000_000);
            assert_eq!(report["type"], "invoice.paid");
        }
    }
}

#[test]
fn signs_and_verifies_ed25519_with_whsk_and_whpk() {
    let body = br#"{"type":"user.created"}"#;
    let seed = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    let public = verihook::testing::StandardSigner::new(seed)
        .unwrap()
        .public_key()
        .unwrap();
    let out = sign_then_verify("standard", seed, &public, body, &["--id", "msg_ed"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The public key cannot sign.
    let refused = run(
        &["sign", "--provider", "standard", "--secret", &public],
        body,
    );
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn rejects_with_code_and_exit_1() {
    let body = br#"{"id":"evt_1"}"#;
    let out = sign_then_verify(
        "stripe",
        "whsec_cli_stripe_secret",
        "whsec_another_secret",
        body,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"], "bad_signature");
    assert_eq!(
        report["message"],
        "no signature matched: tried 1 secret against 1 signature"
    );

    let short_signature = run(
        &[
            "verify",
            "-p",
            "stripe",
            "-s",
            "whsec_cli_stripe_secret",
            "-H",
            "Stripe-Signature: t=1000,v1=00",
            "--now",
            "1000",
        ],
        b"{}",
    );
    assert_eq!(short_signature.status.code(), Some(1));
    assert_eq!(json(&short_signature)["error"], "bad_signature");

    let missing = run(
        &["verify", "-p", "github", "-s", "cli-github-secret"],
        b"{}",
    );
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(json(&missing)["error"], "missing_header");
    assert_eq!(
        json(&missing)["message"],
        "missing header X-Hub-Signature-256"
    );

    let bad_secret = run(
        &[
            "verify",
            "-p",
            "standard",
            "-s",
            "whsec_***",
            "-H",
            "webhook-id: 1",
        ],
        b"{}",
    );
    assert_eq!(bad_secret.status.code(), Some(1));
    assert_eq!(json(&bad_secret)["error"], "bad_secret");
}

#[test]
fn tolerance_and_now_decide_freshness() {
    let body = br#"{"id":"evt_1"}"#;
    let signed = run(
        &[
            "sign",
            "-p",
            "stripe",
            "-s",
            "whsec_cli_stripe_secret",
            "--timestamp",
            "1700000000",
        ],
        body,
    );
    let header = String::from_utf8(signed.stdout).unwrap();
    let header = header.trim();
    let at = |now: &str, tolerance: &str| {
        run(
            &[
                "verify",
                "-p",
                "stripe",
                "-s",
                "whsec_cli_stripe_secret",
                "-H",
                header,
                "--now",
                now,
                "--tolerance",
                tolerance,
            ],
            body,
        )
    };
    assert_eq!(at("1700000060", "60").status.code(), Some(0));
    let old = at("1700000061", "60");
    assert_eq!(json(&old)["error"], "timestamp_too_old");
    assert_eq!(
        json(&old)["message"],
        "timestamp is 61s old, more than the 60s tolerance"
    );
    assert_eq!(
        json(&at("1699999000", "60"))["error"],
        "timestamp_in_future"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["verify", "--provider", "bitbucket", "--secret", "x"],
        vec!["verify", "--provider", "github"],
        vec![
            "verify",
            "--provider",
            "github",
            "--secret",
            "abcdefgh",
            "-H",
            "no colon",
        ],
        vec![
            "verify",
            "--provider",
            "github",
            "--secret",
            "abcdefgh",
            "--now",
            "soon",
        ],
        vec![
            "verify",
            "--provider",
            "github",
            "--secret",
            "abcdefgh",
            "--body-file",
            "/nonexistent/verihook",
        ],
        vec!["sign", "--provider", "github", "--secret", ""],
        vec!["sign", "--provider", "github", "--secret", "   "],
        vec!["verify", "--provider", "github", "--secret", " \t "],
        vec!["listen", "--port", "0", "--secret", "github=   "],
        vec!["frobnicate"],
    ] {
        let out = run(&args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn standardwebhooks_sdk_accepts_sign_output() {
    let body = br#"{"type":"invoice.paid"}"#;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let out = run(
        &[
            "sign",
            "-p",
            "standard",
            "-s",
            secret,
            "--id",
            "msg_sdk",
            "--timestamp",
            &now,
        ],
        body,
    );
    assert!(out.status.success());
    let mut map = http::HeaderMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (name, value) = line.split_once(": ").unwrap();
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(body, &map).unwrap();
    // And it notices a changed body: the check above is not vacuous.
    assert!(wh.verify(br#"{"type":"invoice.paid "}"#, &map).is_err());
}

/// `verihook send` against a real receiver: the same delivery replayed is processed once.
#[test]
fn send_replays_one_delivery_and_the_receiver_processes_it_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let base = runtime.block_on(async move {
        let receiver = Arc::new(
            verihook::Receiver::builder()
                .verifier(
                    verihook::providers::standard::StandardVerifier::new(
                        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    )
                    .unwrap(),
                )
                .handler(move |delivery| {
                    let counter = counter.clone();
                    async move {
                        assert_eq!(delivery.event_type().as_deref(), Some("user.created"));
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .build()
                .unwrap(),
        );
        let app = axum::Router::new()
            .route(
                "/webhooks/standard",
                axum::routing::post(verihook::axum::receive),
            )
            .with_state(receiver);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    });
    let url = format!("{base}/webhooks/standard");
    let out = run(
        &[
            "send",
            "-p",
            "standard",
            "-s",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--url",
            &url,
            "--event",
            "user.created",
            "--id",
            "msg_send_test",
            "--repeat",
            "20",
            "--concurrency",
            "5",
        ],
        b"",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1, "{stdout}");
    assert_eq!(stdout.lines().count(), 20, "{stdout}");
    assert_eq!(
        stdout.matches(r#""outcome":"processed""#).count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches(r#""outcome":"duplicate""#).count()
            + stdout.matches(r#""outcome":"in_flight""#).count(),
        19,
        "{stdout}"
    );
    // 409s for in-flight duplicates make the exit status 1; all-2xx makes it 0.
    let in_flight = stdout.matches(" 409 ").count();
    assert_eq!(
        out.status.code(),
        Some(if in_flight == 0 { 0 } else { 1 }),
        "{stdout}"
    );

    let wrong = run(
        &[
            "send",
            "-p",
            "standard",
            "-s",
            "whsec_c29tZSBvdGhlciBzZWNyZXQgISEh",
            "--url",
            &url,
        ],
        b"",
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8(wrong.stdout).unwrap().contains(" 401 "));
}

/// Runs the CLI with `VERIHOOK_SECRET` set to `secrets`.
fn run_with_secret_env(args: &[&str], stdin: &[u8], secrets: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args(args)
        .env("VERIHOOK_SECRET", secrets)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Signs with `sign_args`, then verifies with the printed headers and `verify_args`.
fn signed_headers(sign_args: &[&str], body: &[u8]) -> Vec<String> {
    let signed = run(sign_args, body);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    String::from_utf8(signed.stdout)
        .unwrap()
        .lines()
        .flat_map(|line| ["-H".to_owned(), line.to_owned()])
        .collect()
}

#[test]
fn signs_and_verifies_the_new_senders() {
    let json_body = br#"{"type":"event_callback","event_id":"Ev1"}"#;
    let linear_body = br#"{"type":"Issue","action":"create","webhookTimestamp":1700000000000}"#;
    for (provider, secret, url, body) in [
        ("paddle", "pdl_ntfset_cli_secret", None, &json_body[..]),
        ("linear", "lin_wh_cli_secret", None, &linear_body[..]),
        ("zoom", "zoom-cli-secret-token", None, &json_body[..]),
        ("slack", "slack-cli-secret", None, &json_body[..]),
        (
            "square",
            "square-cli-key",
            Some("https://example.com/webhooks/square"),
            &json_body[..],
        ),
        (
            "twilio",
            "twilio-cli-token",
            Some("https://example.com/webhooks/twilio?x=1"),
            &b"From=%2B1415&Body=hi+there"[..],
        ),
        ("shopify", "shopify-cli-secret", None, &json_body[..]),
        ("gitlab", "gitlab-cli-token", None, &json_body[..]),
    ] {
        let mut sign = vec![
            "sign",
            "-p",
            provider,
            "-s",
            secret,
            "--timestamp",
            "1700000000",
        ];
        let mut verify = vec![
            "verify",
            "-p",
            provider,
            "-s",
            secret,
            "--now",
            "1700000003",
        ];
        if let Some(url) = url {
            sign.extend(["--url", url]);
            verify.extend(["--url", url]);
        }
        let headers = signed_headers(&sign, body);
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        verify.extend(headers.iter().copied());
        let out = run(&verify, body);
        assert_eq!(out.status.code(), Some(0), "{provider}: {:?}", json(&out));
        assert_eq!(json(&out)["provider"], provider);
        let tampered = run(&verify, b"{}");
        if provider == "gitlab" {
            // A token signs nothing: any body passes with it (the docs say so).
            assert_eq!(json(&tampered)["ok"], true);
        } else {
            assert_eq!(json(&tampered)["error"], "bad_signature", "{provider}");
        }
    }
}

#[test]
fn each_scheme_applies_its_providers_window_unless_told_otherwise() {
    let body = br#"{"event_id":"evt_1","event_type":"transaction.completed"}"#;
    let headers = signed_headers(
        &[
            "sign",
            "-p",
            "paddle",
            "-s",
            "pdl_ntfset_cli_secret",
            "--timestamp",
            "1700000000",
        ],
        body,
    );
    let verify = |now: &str, tolerance: Option<&str>| {
        let mut args = vec![
            "verify",
            "-p",
            "paddle",
            "-s",
            "pdl_ntfset_cli_secret",
            "--now",
            now,
        ];
        if let Some(tolerance) = tolerance {
            args.extend(["--tolerance", tolerance]);
        }
        args.extend(headers.iter().map(String::as_str));
        json(&run(&args, body))
    };
    assert_eq!(verify("1700000005", None)["ok"], true);
    let late = verify("1700000006", None);
    assert_eq!(late["error"], "timestamp_too_old");
    assert_eq!(
        late["message"],
        "timestamp is 6s old, more than the 5s tolerance"
    );
    assert_eq!(verify("1700000200", Some("300"))["ok"], true);
}

#[test]
fn url_signing_senders_need_the_url_and_discord_cannot_be_signed() {
    let out = run(
        &["verify", "-p", "twilio", "-s", "twilio-cli-token"],
        b"a=1",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
    let out = run(&["sign", "-p", "discord", "-s", "00"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("private key"));
}

#[test]
fn secrets_come_from_a_file_or_the_environment() {
    let body = br#"{"zen":"Half measures are as bad as nothing at all."}"#;
    let headers = signed_headers(&["sign", "-p", "github", "-s", "file-or-env-secret"], body);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let dir = std::env::temp_dir().join(format!("verihook-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secrets");
    std::fs::write(&file, "# rotation\nan-older-secret\n\nfile-or-env-secret\n").unwrap();
    let mut args = vec![
        "verify",
        "-p",
        "github",
        "--secret-file",
        file.to_str().unwrap(),
    ];
    args.extend(headers.iter().copied());
    let out = run(&args, body);
    assert_eq!(json(&out)["ok"], true, "{:?}", json(&out));
    let mut args = vec!["verify", "-p", "github"];
    args.extend(headers.iter().copied());
    // Rotation in a variable: one secret per line.
    let out = run_with_secret_env(&args, body, "an-older-secret\nfile-or-env-secret\n");
    assert_eq!(json(&out)["ok"], true, "{:?}", json(&out));
    let none = run(&args, body);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("VERIHOOK_SECRET"));
}

#[test]
fn a_short_secret_verifies_with_a_warning() {
    let body = b"{}";
    let short = "abc";
    // Signed by hand, the GitHub way, independently of the signers.
    let signature = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(short.as_bytes()).unwrap();
        mac.update(body);
        format!(
            "X-Hub-Signature-256: sha256={}",
            const_hex::encode(mac.finalize().into_bytes())
        )
    };
    let out = run(
        &["verify", "-p", "github", "-s", short, "-H", &signature],
        body,
    );
    let report = json(&out);
    assert_eq!(
        (out.status.code(), &report["ok"]),
        (Some(0), &serde_json::json!(true))
    );
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings[0].as_str().unwrap().contains("weak secret"),
        "{report}"
    );
    assert!(
        !report.to_string().contains(short),
        "the secret is not echoed: {report}"
    );
}

#[test]
fn a_short_secret_signs_and_sends_with_the_same_warning_as_verify() {
    // GitHub lets users pick any secret: every subcommand works with it, and says it is weak.
    let body = b"{}";
    let signed = run(
        &[
            "sign",
            "-p",
            "github",
            "-s",
            "abc",
            "--timestamp",
            "1700000000",
        ],
        body,
    );
    assert_eq!(signed.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&signed.stderr);
    assert!(
        stderr.contains("warning: weak secret: the secret is 3 bytes"),
        "{stderr}"
    );
    let header = String::from_utf8(signed.stdout)
        .unwrap()
        .lines()
        .find(|line| line.starts_with("X-Hub-Signature-256"))
        .unwrap()
        .to_owned();
    let out = run(
        &["verify", "-p", "github", "-s", "abc", "-H", &header],
        body,
    );
    assert_eq!(out.status.code(), Some(0), "{}", json(&out));
    // One byte is one byte.
    let one = run(&["verify", "-p", "github", "-s", "a", "-H", &header], body);
    let report = json(&one);
    assert_eq!(one.status.code(), Some(1));
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("the secret is 1 byte,"),
        "{report}"
    );
}

#[test]
fn shopify_sign_prints_every_header_shopify_sends() {
    // Shopify's own library refuses a request without these (shopify-api-js validate.ts).
    let headers = signed_headers(
        &[
            "sign",
            "-p",
            "shopify",
            "-s",
            "test-webhook-secret",
            "--id",
            "w-1",
        ],
        br#"{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}"#,
    );
    let names: Vec<String> = headers
        .chunks(2)
        .map(|pair| pair[1].split(':').next().unwrap().to_ascii_lowercase())
        .collect();
    for required in [
        "x-shopify-hmac-sha256",
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-webhook-id",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "{required} in {names:?}"
        );
    }
    // The signature of a published example (see tests/vectors/shopify.json).
    assert!(headers
        .iter()
        .any(|h| h == "X-Shopify-Hmac-Sha256: QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="));
}

#[test]
fn a_declared_scheme_file_signs_and_verifies_and_a_bad_one_is_a_usage_error() {
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/schemes/hubspot-v3.json"
    );
    let url = "https://hooks.example.com/webhooks/hubspot";
    let body = br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#;
    let headers = signed_headers(
        &[
            "sign",
            "--scheme-file",
            spec,
            "-s",
            "hubspot-client-secret",
            "--url",
            url,
            "--timestamp",
            "1700000000",
        ],
        body,
    );
    assert!(
        headers
            .iter()
            .any(|h| h == "X-Hubspot-Request-Timestamp: 1700000000000"),
        "{headers:?}"
    );
    let mut verify = vec![
        "verify",
        "--scheme-file",
        spec,
        "-s",
        "hubspot-client-secret",
        "--url",
        url,
        "--now",
        "1700000010",
    ];
    verify.extend(headers.iter().map(String::as_str));
    let out = run(&verify, body);
    assert_eq!(json(&out)["ok"], true, "{:?}", json(&out));
    assert_eq!(json(&out)["provider"], "hubspot");
    assert_eq!(json(&out)["timestamp"], 1_700_000_000);
    assert_eq!(json(&run(&verify, b"[]"))["error"], "bad_signature");

    // Both a provider and a file, or a specification that would accept any body: exit 2.
    let both = run(
        &["verify", "-p", "github", "--scheme-file", spec, "-s", "x"],
        b"",
    );
    assert_eq!(both.status.code(), Some(2));
    let dir = std::env::temp_dir().join(format!("verihook-cli-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("no-body.json");
    std::fs::write(
        &bad,
        r#"{"name":"acme","signature":{"header":"X-Sig","encoding":"hex"},"signed":[{"literal":"x"}]}"#,
    )
    .unwrap();
    let out = run(
        &[
            "verify",
            "--scheme-file",
            bad.to_str().unwrap(),
            "-s",
            "acme-secret",
        ],
        b"{}",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no \"body\" piece"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_adds_the_checked_causes_to_a_rejection() {
    let pretty = b"{\n  \"id\": \"evt_1\",\n  \"type\": \"invoice.paid\"\n}";
    let compact = b"{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    let secret = "whsec_explain_test_secret_01";
    let headers = signed_headers(
        &[
            "sign",
            "--provider",
            "stripe",
            "--secret",
            secret,
            "--timestamp",
            "1700000000",
        ],
        pretty,
    );
    let verify = |body: &[u8], secret: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--provider",
            "stripe",
            "--secret",
            secret,
            "--now",
            "1700000010",
        ];
        args.extend(headers.iter().map(String::as_str));
        args.extend_from_slice(extra);
        run(&args, body)
    };
    let plain = verify(compact, secret, &[]);
    assert_eq!(plain.status.code(), Some(1));
    assert!(json(&plain).get("diagnosis").is_none());

    let explained = json(&verify(compact, secret, &["--explain"]));
    assert_eq!(explained["error"], "bad_signature");
    assert_eq!(explained["diagnosis"][0]["cause"], "body_reserialized");
    let text = explained.to_string();
    assert!(
        !text.contains(secret) && !text.contains("explain_test_secret"),
        "{text}"
    );

    let explained = json(&verify(pretty, "explain_test_secret_01", &["--explain"]));
    assert_eq!(explained["diagnosis"][0]["cause"], "secret_missing_prefix");
    assert!(!explained.to_string().contains("explain_test_secret"));

    // No mistake to find: only the conclusion that the secret differs, not a guess.
    let explained = json(&verify(
        pretty,
        "whsec_some_other_secret_000",
        &["--explain"],
    ));
    let diagnosis = explained["diagnosis"].as_array().unwrap();
    assert_eq!(diagnosis.len(), 1, "{explained}");
    assert_eq!(diagnosis[0]["cause"], "secret_differs");
}

/// What `listen --json` printed once it stopped: the text, and one object per line.
fn json_reports(child: std::process::Child) -> (String, Vec<serde_json::Value>) {
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let reports = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, reports)
}

/// Starts `verihook listen --port 0` with `args`; its address and the running child.
fn start_listen(args: &[&str]) -> (String, std::process::Child) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .arg("listen")
        .args(["--port", "0"])
        .args(args)
        .env_remove("STRIPE_WEBHOOK_SECRET")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    (addr, child)
}

#[test]
fn listen_reports_each_request_with_its_verdict_and_diagnosis() {
    let (addr, child) = start_listen(&[
        "--json",
        "--count",
        "4",
        "--secret",
        "github=listen-test-secret-1",
        "--secret",
        "stripe=whsec_listen_test_secret_2",
    ]);
    let url = format!("http://{addr}/webhooks/github");
    let send = |args: &[&str]| run(&[&["send", "--url", &url][..], args].concat(), b"");
    assert!(send(&[
        "-p",
        "github",
        "-s",
        "listen-test-secret-1",
        "--event",
        "push"
    ])
    .status
    .success());
    assert_eq!(
        send(&["-p", "github", "-s", "wrong-secret-000"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        send(&[
            "-p",
            "stripe",
            "-s",
            "whsec_listen_test_secret_2",
            "--alter",
            "pretty"
        ])
        .status
        .code(),
        Some(1)
    );
    // The GitHub route's secret used for Stripe's sender: another sender's secret.
    assert_eq!(
        send(&["-p", "github", "-s", "whsec_listen_test_secret_2"])
            .status
            .code(),
        Some(1)
    );
    let (text, reports) = json_reports(child);
    assert_eq!(reports.len(), 4, "{text}");

    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[0]["sender"], "github");
    assert_eq!(reports[0]["type"], "push");
    assert_eq!(reports[0]["status"], 200);
    assert_eq!(reports[0]["path"], "/webhooks/github");

    assert_eq!(reports[1]["ok"], false);
    assert_eq!(reports[1]["error"], "bad_signature");
    assert_eq!(reports[1]["status"], 401);
    assert_eq!(
        reports[1]["diagnosis"][0]["cause"], "secret_differs",
        "{}",
        reports[1]
    );

    assert_eq!(reports[2]["sender"], "stripe");
    assert_eq!(reports[2]["diagnosis"][0]["cause"], "body_reserialized");

    assert_eq!(reports[3]["diagnosis"][0]["cause"], "other_senders_secret");
    assert!(reports[3]["diagnosis"][0]["advice"]
        .as_str()
        .unwrap()
        .contains("`stripe`"));

    for report in &reports {
        let headers = report["headers"].as_array().unwrap();
        let signature = headers
            .iter()
            .find(|h| h[0] == "x-hub-signature-256" || h[0] == "stripe-signature")
            .unwrap();
        assert_eq!(signature[1], "[redacted]");
    }
    for secret in [
        "listen-test-secret-1",
        "listen_test_secret_2",
        "wrong-secret-000",
    ] {
        assert!(!text.contains(secret), "a secret was printed:\n{text}");
    }
}

#[test]
fn listen_answers_handshakes_like_the_receiver_and_prints_blocks() {
    let (addr, child) = start_listen(&["--count", "1", "--secret", "slack=listen-slack-secret-1"]);
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let headers = signed_headers(
        &[
            "sign",
            "--provider",
            "slack",
            "--secret",
            "listen-slack-secret-1",
        ],
        body,
    );
    // Slack signs the handshake like any event: post it signed, with a raw client.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let mut request = format!("POST /slack/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for pair in headers.chunks(2) {
        request.push_str(&pair[1]);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.ends_with(r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#),
        "{answer}"
    );
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("sender    slack"), "{text}");
    assert!(text.contains("verdict   handshake answered"), "{text}");
    assert!(text.contains("x-slack-signature: [redacted]"), "{text}");
    assert!(!text.contains("listen-slack-secret-1"), "{text}");
}

#[test]
fn listen_recognises_a_declared_sender_by_its_signature_header() {
    let (addr, child) = start_listen(&[
        "--json",
        "--count",
        "2",
        "--scheme-file",
        MUX_SCHEME,
        "--secret",
        "mux=listen-mux-signing-secret",
        "--secret",
        "github=listen-test-secret-1",
    ]);
    let url = format!("http://{addr}/webhooks/mux");
    let send = |secret: &str| {
        run(
            &[
                "send",
                "--scheme-file",
                MUX_SCHEME,
                "-s",
                secret,
                "--url",
                &url,
                "--event",
                "video.asset.ready",
            ],
            b"",
        )
    };
    assert!(send("listen-mux-signing-secret").status.success());
    assert_eq!(send("listen-test-secret-1").status.code(), Some(1));
    let (text, reports) = json_reports(child);
    assert_eq!(reports.len(), 2, "{text}");
    assert_eq!(reports[0]["sender"], "mux");
    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[0]["type"], "video.asset.ready");
    assert_eq!(reports[1]["diagnosis"][0]["cause"], "other_senders_secret");
    let headers = reports[0]["headers"].as_array().unwrap();
    assert!(headers
        .iter()
        .any(|h| h[0] == "mux-signature" && h[1] == "[redacted]"));
    assert!(!text.contains("listen-mux-signing-secret"));
}

#[test]
fn a_secret_with_spaces_in_a_variable_stays_whole() {
    let body = br#"{"zen":"Speak like a human."}"#;
    let secret = "a github secret with spaces";
    let headers = signed_headers(&["sign", "-p", "github", "-s", secret], body);
    let mut args = vec!["verify", "-p", "github"];
    args.extend(headers.iter().map(String::as_str));
    let out = run_with_secret_env(&args, body, secret);
    assert_eq!(json(&out)["ok"], true, "{:?}", json(&out));
    // A blank variable is a usage error, as a blank --secret is.
    let blank = run_with_secret_env(&args, body, "  \n ");
    assert_eq!(blank.status.code(), Some(2), "{blank:?}");
    assert!(blank.stdout.is_empty());
}

/// Sends `request` (raw HTTP/1.1 bytes) to `addr` and reads the answer.
fn raw_request(addr: &str, request: &[u8]) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn listen_escapes_controls_and_redacts_credentials_and_body_tokens() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_verihook"))
        .args(["listen", "--port", "0", "--json", "--count", "3"])
        .env("GITHUB_WEBHOOK_SECRET", "listen secret with spaces")
        .env_remove("STRIPE_WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    // A GitHub delivery signed with a secret that has spaces (GitHub allows any text).
    let url = format!("http://{addr}/webhooks/github");
    let sent = run(
        &[
            "send",
            "--url",
            &url,
            "-p",
            "github",
            "-s",
            "listen secret with spaces",
        ],
        b"",
    );
    assert!(sent.status.success(), "{sent:?}");
    // Controls in a header value, credentials under names the old rule missed.
    let mut request = b"POST /hook HTTP/1.1\r\nhost: x\r\nx-note: a\xc2\x9b31mB\xe2\x80\xaeC\r\napikey: key-one-visible\r\nx-webhook-password: pass-two-visible\r\nx-session-id: sess-three-visible\r\ncontent-type: application/x-www-form-urlencoded\r\n".to_vec();
    let form = b"token=slack-legacy-token-1&team_id=T1&text=hi";
    request.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            form.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(form);
    raw_request(&addr, &request);
    let json_body =
        br#"{"token":"slack-legacy-token-2","type":"url_verification","challenge":"c1"}"#;
    let mut request = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        json_body.len()
    )
    .into_bytes();
    request.extend_from_slice(json_body);
    raw_request(&addr, &request);
    let (text, reports) = json_reports(child);
    assert_eq!(reports.len(), 3, "{text}");
    assert_eq!(reports[0]["ok"], true, "{}", reports[0]);
    for raw in ['\u{9b}', '\u{202e}', '\u{1b}'] {
        assert!(!text.contains(raw), "{raw:?} reached the terminal:\n{text}");
    }
    for secret in [
        "key-one-visible",
        "pass-two-visible",
        "sess-three-visible",
        "slack-legacy-token-1",
        "slack-legacy-token-2",
        "listen secret with spaces",
    ] {
        assert!(!text.contains(secret), "{secret} was printed:\n{text}");
    }
    assert!(text.contains("team_id=T1"), "{text}");
    assert!(text.contains("url_verification"), "{text}");
}
