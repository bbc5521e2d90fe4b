//! Guards over real HTTP, on Axum (a tower layer) and Actix-web (middleware): allowed, denied,
//! a trusted proxy's header vs the same header from anyone, a client's own `Forwarded` behind
//! an `X-Forwarded-For` proxy, a chain of trusted hops, and 429 with `Retry-After`. A refused
//! request costs no MAC (a counting scheme proves it) and its body is never read. Then the
//! limiter under floods: forged sources, and 50,000 distinct ones against its cap.
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use verihook::guard::{Guard, GuardLayer, IpAllowlist, IpRanges, RateLimit, TrustedProxies};
use verihook::providers::github::Github;
use verihook::scheme::{Check, SchemeInfo};
use verihook::testing::GithubSigner;
use verihook::{
    event::Verified, providers::github::GithubVerifier, Receiver, RequestHead, Scheme, VerifyError,
    WebhookRequest,
};

const SECRET: &str = "guard-test-secret";

/// GitHub's scheme, counting the verifications (each one a MAC over the body).
#[derive(Debug)]
struct Counting {
    inner: Github,
    macs: Arc<AtomicUsize>,
}

impl Scheme for Counting {
    fn info(&self) -> &SchemeInfo {
        self.inner.info()
    }
    fn check_head(&self, head: &RequestHead<'_>, at: &Check<'_>) -> Result<(), VerifyError> {
        self.inner.check_head(head, at)
    }
    fn verify(
        &self,
        request: &WebhookRequest<'_>,
        at: &Check<'_>,
    ) -> Result<Verified, VerifyError> {
        self.macs.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(request, at)
    }
}

fn receiver(macs: Arc<AtomicUsize>) -> Receiver {
    Receiver::builder()
        .sender(
            "github",
            Counting {
                inner: GithubVerifier::new(SECRET).unwrap().into_scheme(),
                macs,
            },
        )
        .handler(|_| async { Ok(()) })
        .build()
        .unwrap()
}

/// Guards for each scenario: (name, guard).
fn guards() -> Vec<(&'static str, Guard)> {
    vec![
        (
            "allowed",
            Guard::new("github").allow(IpAllowlist::parse("127.0.0.0/8, ::1").unwrap()),
        ),
        (
            "denied",
            Guard::new("github").allow(IpAllowlist::parse("192.0.2.0/24").unwrap()),
        ),
        (
            "proxied",
            Guard::new("github")
                .allow(IpAllowlist::parse("203.0.113.0/24").unwrap())
                .trust_proxies(TrustedProxies::x_forwarded_for(
                    IpRanges::parse("127.0.0.1").unwrap(),
                )),
        ),
        (
            "chained",
            Guard::new("github")
                .allow(IpAllowlist::parse("203.0.113.0/24").unwrap())
                .trust_proxies(TrustedProxies::x_forwarded_for(
                    IpRanges::parse("127.0.0.0/8").unwrap(),
                )),
        ),
        (
            "untrusted",
            Guard::new("github").allow(IpAllowlist::parse("203.0.113.0/24").unwrap()),
        ),
        (
            "limited",
            Guard::new("github").rate_limit(RateLimit::per_minute(1).burst(2)),
        ),
    ]
}

async fn start_axum(macs: Arc<AtomicUsize>) -> SocketAddr {
    use axum::routing::post;
    let mut app = axum::Router::new();
    for (name, guard) in guards() {
        app = app.route(
            &format!("/{name}"),
            post(verihook::axum::receive).layer(GuardLayer::new(guard)),
        );
    }
    let app = app.with_state(Arc::new(receiver(macs)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn start_actix(macs: Arc<AtomicUsize>) -> SocketAddr {
    use actix_web::{web, App, HttpServer};
    let receiver = web::Data::new(receiver(macs));
    let guards = guards();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let mut app = App::new().app_data(receiver.clone());
        for (name, guard) in &guards {
            app = app.service(
                web::resource(format!("/{name}"))
                    .wrap(guard.clone())
                    .route(web::post().to(verihook::actix::receive)),
            );
        }
        app
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    std::thread::spawn(move || actix_rt::System::new().block_on(server));
    addr
}

async fn post(addr: SocketAddr, path: &str, forwarded: Option<&str>) -> reqwest::Response {
    post_with(
        addr,
        path,
        &forwarded
            .map(|v| ("x-forwarded-for", v))
            .into_iter()
            .collect::<Vec<_>>(),
    )
    .await
}

/// A signed request with extra `headers` (what a client wrote, or a proxy appended).
async fn post_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    // GitHub's events are keyed by the body's digest: each request its own body.
    let body = format!(r#"{{"zen":"Design for failure.","n":{}}}"#, rand_id());
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/{path}"))
        .body(body.clone());
    for (name, value) in &GithubSigner::new(SECRET).unwrap().sign(body.as_bytes()) {
        request = request.header(name.as_str(), value.to_str().unwrap());
    }
    request = request
        .header("x-github-event", "ping")
        .header("x-github-delivery", format!("d-{path}-{}", rand_id()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn rand_id() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn code(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let code = body
        .get("error")
        .or_else(|| body.get("outcome"))
        .and_then(|v| v.as_str())
        .unwrap()
        .to_owned();
    (status, retry, code)
}

async fn scenarios(addr: SocketAddr, macs: &AtomicUsize) {
    let before = macs.load(Ordering::SeqCst);
    assert_eq!(
        code(post(addr, "allowed", None).await).await,
        (200, None, "processed".into())
    );
    assert_eq!(macs.load(Ordering::SeqCst), before + 1);

    let before = macs.load(Ordering::SeqCst);
    assert_eq!(
        code(post(addr, "denied", None).await).await,
        (403, None, "ip_not_allowed".into())
    );
    // From the trusted proxy, its header names the client; from anyone, the header is ignored.
    assert_eq!(
        code(post(addr, "proxied", Some("198.51.100.9, 203.0.113.5")).await).await,
        (200, None, "processed".into())
    );
    assert_eq!(
        code(post(addr, "proxied", Some("203.0.113.5, 198.51.100.9")).await).await,
        (403, None, "ip_not_allowed".into()),
        "the proxy's nearest entry counts, not a spoofed leftmost one"
    );
    // The proxy (127.0.0.1 here) appends to X-Forwarded-For only: a `Forwarded` header is the
    // client's own, naming an allowed address it does not have.
    assert_eq!(
        code(
            post_with(
                addr,
                "proxied",
                &[
                    ("forwarded", "for=203.0.113.5"),
                    ("x-forwarded-for", "198.51.100.9")
                ]
            )
            .await
        )
        .await,
        (403, None, "ip_not_allowed".into()),
        "a client's own Forwarded header is not the proxy's"
    );
    assert_eq!(
        code(post_with(addr, "proxied", &[("forwarded", "for=203.0.113.5")]).await).await,
        (403, None, "ip_not_allowed".into()),
        "a client's own Forwarded header, with no X-Forwarded-For at all"
    );
    // A chain of trusted hops is walked back to the first untrusted address...
    assert_eq!(
        code(
            post(
                addr,
                "chained",
                Some("198.51.100.9, 203.0.113.5, 127.0.0.7")
            )
            .await
        )
        .await,
        (200, None, "processed".into())
    );
    // ...and no further: what the client wrote left of it does not count.
    assert_eq!(
        code(
            post(
                addr,
                "chained",
                Some("203.0.113.5, 198.51.100.9, 127.0.0.7")
            )
            .await
        )
        .await,
        (403, None, "ip_not_allowed".into())
    );
    assert_eq!(
        code(post(addr, "untrusted", Some("203.0.113.5")).await).await,
        (403, None, "ip_not_allowed".into())
    );
    assert_eq!(
        macs.load(Ordering::SeqCst),
        before + 2,
        "only the allowed requests cost a MAC"
    );

    let before = macs.load(Ordering::SeqCst);
    for _ in 0..2 {
        assert_eq!(code(post(addr, "limited", None).await).await.0, 200);
    }
    let (status, retry, error) = code(post(addr, "limited", None).await).await;
    assert_eq!((status, error.as_str()), (429, "rate_limited"));
    let seconds: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    assert_eq!(macs.load(Ordering::SeqCst), before + 2);
}

/// A refused request is answered before its body arrives: the head announces 1 MB and the
/// client sends none of it.
fn refused_before_the_body(addr: SocketAddr) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let head = GithubSigner::new(SECRET).unwrap().sign(b"x");
    let signature = head["x-hub-signature-256"].to_str().unwrap();
    write!(
        stream,
        "POST /denied HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: ping\r\nX-GitHub-Delivery: d1\r\nX-Hub-Signature-256: {signature}\r\n\
         Content-Length: 1000000\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_guards_allow_deny_trust_proxies_and_rate_limit() {
    let macs = Arc::new(AtomicUsize::new(0));
    let addr = start_axum(macs.clone()).await;
    scenarios(addr, &macs).await;
    tokio::task::spawn_blocking(move || refused_before_the_body(addr))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_guards_allow_deny_trust_proxies_and_rate_limit() {
    let macs = Arc::new(AtomicUsize::new(0));
    let addr = start_actix(macs.clone());
    scenarios(addr, &macs).await;
    tokio::task::spawn_blocking(move || refused_before_the_body(addr))
        .await
        .unwrap();
}

/// A flood of requests through a trusted X-Forwarded-For proxy, each with a fresh forged
/// `Forwarded: for=`, against a limit of 6 a minute: how many get through.
fn forged_flood_passes(guard: &Guard, requests: u32) -> usize {
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let mut headers = HeaderMap::new();
    // What the proxy appended: the client's real address.
    headers.insert("x-forwarded-for", "198.51.100.9".parse().unwrap());
    (0..requests)
        .filter(|i| {
            let forged = std::net::Ipv4Addr::from(0xC000_0000 | i);
            headers.insert("forwarded", format!("for={forged}").parse().unwrap());
            guard.check(Some(proxy), &headers).is_ok()
        })
        .count()
}

#[test]
fn forged_forwarded_sources_do_not_evade_the_rate_limit() {
    let guard = Guard::new("github")
        .trust_proxies(TrustedProxies::x_forwarded_for(
            IpRanges::parse("10.0.0.0/8").unwrap(),
        ))
        .rate_limit(RateLimit::per_minute(6));
    let passed = forged_flood_passes(&guard, 50_000);
    println!("forged Forwarded flood: {passed} of 50000 passed a 6/min limit");
    assert_eq!(passed, 6);
}

#[test]
fn forged_forwarded_header_does_not_pass_the_allowlist() {
    let guard = Guard::new("github")
        .allow(IpAllowlist::parse("192.0.2.0/24").unwrap())
        .trust_proxies(TrustedProxies::x_forwarded_for(
            IpRanges::parse("10.0.0.0/8").unwrap(),
        ));
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", "198.51.100.9".parse().unwrap());
    headers.insert("forwarded", "for=192.0.2.7".parse().unwrap());
    let rejection = guard
        .check(Some("10.0.0.1".parse().unwrap()), &headers)
        .unwrap_err();
    assert_eq!(rejection.code(), "ip_not_allowed");
}

/// 50,000 distinct sources (IPv6 /64s are cheap to hold) against one limiter: what it keeps.
#[test]
fn limiter_memory_is_capped_whatever_the_sources() {
    let limit = RateLimit::per_minute(6);
    let sources: Vec<IpAddr> = (0..50_000u128)
        .map(|i| IpAddr::V6(Ipv6Addr::from((0x2001_0db8u128 << 96) | (i << 64))))
        .collect();
    let mut passed = 0;
    let info = allocation_counter::measure(|| {
        passed = sources.iter().filter(|s| limit.check(**s).is_ok()).count();
    });
    println!(
        "50000 distinct sources: {passed} passed, {} tracked, {} bytes held ({} bytes peak)",
        limit.sources(),
        info.bytes_current,
        info.bytes_max
    );
    assert!(
        limit.sources() <= 16_384,
        "{} sources tracked",
        limit.sources()
    );
    assert!(
        info.bytes_current <= 2 << 20,
        "{} bytes held",
        info.bytes_current
    );
}
