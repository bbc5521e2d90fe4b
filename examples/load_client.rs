//! The load client `scripts/load.sh` drives `load_target` with: every request signed before
//! the clock starts, each a distinct event, replayed over keep-alive HTTP/1.1 connections.
//!
//! Signing in the client's hot loop (wrk's Lua did) made the client, not the server, set the
//! pace. Here all requests — `--warmup` plus `--requests` — are signed into memory with the
//! library's own signers (`verihook::testing`) first; the timed loop only writes prepared bytes
//! and reads answers. Each request carries its own event id (`evt_<run>_<n>` in the body, and
//! the Standard Webhooks `webhook-id`), so GitHub's body digest, Stripe's `id` and Standard
//! Webhooks' id are new for every request and for every run: nothing is a duplicate.
//!
//! ```sh
//! load_client --addr 127.0.0.1:3917 --path /webhooks/github --scheme github \
//!     --requests 300000 --connections 32 --server-pid "$pid" --expect processed
//! ```
//!
//! By default (`--mode spin`) one thread polls non-blocking sockets in a loop and never sleeps;
//! `--mode epoll` runs the connections as Tokio tasks on one thread instead, which sleeps while
//! every connection waits (and so makes the server wake it, at the server's expense).
//!
//! It prints one line, `RESULT <requests/s> <p50 ms> <p99 ms> <requests> <failed>
//! <server CPU µs per request> <client CPU µs per request> <client CPU share> <server CPU
//! share>`. The last is the server's CPU time over the timed run's wall time: near 100%, the
//! server never waited for a request, so the client was not what limited it. (A spinning
//! client's own CPU share is near 100% by design and says nothing about its headroom.): the server's
//! CPU (user + system, `/proc/<pid>/stat`) and the client's own are read just before and just
//! after the timed requests. Every answer, warm-up and timed, must be `200` with `--expect` in
//! its body; any other answer is counted as failed (and the script stops).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use verihook::testing::{GithubSigner, StandardSigner, StripeSigner};

/// The secrets `load_target` verifies with (test values, nothing else uses them).
const GITHUB_SECRET: &str = "load-test-github-secret";
const STRIPE_SECRET: &str = "whsec_load_test_stripe_secret";
const STANDARD_SECRET: &str = "whsec_bG9hZC10ZXN0LXN0YW5kYXJkLXNlY3JldA==";

/// The body every request carries: 1 KiB of JSON, its event id the only part that changes.
const BODY_SIZE: usize = 1024;

#[derive(Debug)]
struct Options {
    addr: String,
    path: String,
    scheme: String,
    requests: usize,
    warmup: usize,
    connections: usize,
    server_pid: Option<u32>,
    expect: String,
    limit: Duration,
    spin: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        addr: "127.0.0.1:3917".to_owned(),
        path: "/unverified/github".to_owned(),
        scheme: "github".to_owned(),
        requests: 100_000,
        warmup: 10_000,
        connections: 32,
        server_pid: None,
        expect: "accepted".to_owned(),
        limit: Duration::from_secs(60),
        spin: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--addr" => o.addr = value.clone(),
            "--path" => o.path = value.clone(),
            "--scheme" => o.scheme = value.clone(),
            "--requests" => o.requests = number()?,
            "--warmup" => o.warmup = number()?,
            "--connections" => o.connections = number()?.max(1),
            "--server-pid" => o.server_pid = Some(number()? as u32),
            "--expect" => o.expect = value.clone(),
            "--limit-secs" => o.limit = Duration::from_secs(number()? as u64),
            "--mode" => {
                o.spin = match value.as_str() {
                    "spin" => true,
                    "epoll" => false,
                    _ => return Err("--mode: spin or epoll".to_owned()),
                }
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(o)
}

/// The 1 KiB body of event `id`.
fn body(id: &str) -> Vec<u8> {
    let head = format!(
        r#"{{"id":"{id}","object":"event","type":"invoice.paid","ref":"refs/heads/main","repository":{{"full_name":"octo-org/load"}},"padding":""#
    );
    let mut body = head.into_bytes();
    let tail = br#""}"#;
    body.resize(BODY_SIZE - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

/// Signs `count` requests for `scheme` into their wire bytes.
fn prepare(o: &Options, count: usize) -> Result<Vec<Vec<u8>>, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    // Unique per run: the stores of earlier runs (Redis, PostgreSQL) never see these ids.
    let run = format!("{}{:09}", now.as_secs(), now.subsec_nanos());
    let github = GithubSigner::new(GITHUB_SECRET)?;
    let stripe = StripeSigner::new(STRIPE_SECRET)?;
    let standard = StandardSigner::new(STANDARD_SECRET)?;
    let mut requests = Vec::with_capacity(count);
    for n in 0..count {
        let id = format!("evt_{run}_{n}");
        let body = body(&id);
        let headers = match o.scheme.as_str() {
            "github" => github.sign_delivery(&id, "push", &body)?,
            "stripe" => stripe.sign(now.as_secs(), &body),
            "standard" => standard.sign(&id, now.as_secs(), &body)?,
            other => return Err(format!("unknown scheme {other}").into()),
        };
        let mut wire = Vec::with_capacity(BODY_SIZE + 512);
        wire.extend_from_slice(
            format!(
                "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                o.path,
                o.addr,
                body.len()
            )
            .as_bytes(),
        );
        for (name, value) in &headers {
            wire.extend_from_slice(name.as_str().as_bytes());
            wire.extend_from_slice(b": ");
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&body);
        requests.push(wire);
    }
    Ok(requests)
}

/// User + system CPU ticks of process `pid` (`self` for this one).
fn cpu_ticks(pid: &str) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other("unreadable /proc stat"))
    };
    Ok(field(14)? + field(15)?)
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<u32>,
    failed: usize,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `buf` holds one whole answer: `None` while it does not, then whether the answer is
/// `200` with `expect` in its body.
fn parse(buf: &[u8], expect: &[u8]) -> io::Result<Option<bool>> {
    let Some(head_end) = find(buf, b"\r\n\r\n").map(|end| end + 4) else {
        return Ok(None);
    };
    let head = &buf[..head_end];
    let ok = head.starts_with(b"HTTP/1.1 200 ");
    let lower: Vec<u8> = head.to_ascii_lowercase();
    let length = find(&lower, b"\r\ncontent-length:")
        .and_then(|at| {
            let rest = &lower[at + 17..];
            let end = find(rest, b"\r\n")?;
            std::str::from_utf8(&rest[..end])
                .ok()?
                .trim()
                .parse::<usize>()
                .ok()
        })
        .ok_or_else(|| io::Error::other("answer without content-length"))?;
    match buf.len().cmp(&(head_end + length)) {
        std::cmp::Ordering::Less => Ok(None),
        std::cmp::Ordering::Equal => Ok(Some(ok && find(&buf[head_end..], expect).is_some())),
        std::cmp::Ordering::Greater => Err(io::Error::other(
            "more bytes than one answer (no pipelining here)",
        )),
    }
}

/// Reads one answer; true when it is `200` with `expect` in its body.
async fn answer(stream: &mut TcpStream, buf: &mut Vec<u8>, expect: &[u8]) -> io::Result<bool> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(good) = parse(buf, expect)? {
            return Ok(good);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One connection of the spinning client: its socket, the answer read so far, and when its
/// request in flight was sent.
struct Connection {
    stream: std::net::TcpStream,
    buf: Vec<u8>,
    sent: Option<Instant>,
}

impl Connection {
    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        use std::io::Write as _;
        self.buf.clear();
        self.sent = Some(Instant::now());
        let mut rest = request;
        while !rest.is_empty() {
            match self.stream.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Runs requests `start..end` over non-blocking sockets polled in a loop, never sleeping: the
/// server's answers then never have to wake the client (on loopback the sender pays for that
/// wake-up, and it would be charged to the server's CPU, more the slower the route).
fn spin_phase(
    o: &Options,
    requests: &[Vec<u8>],
    start: usize,
    end: usize,
) -> io::Result<(Tally, Duration)> {
    use std::io::Read as _;
    let mut connections = Vec::with_capacity(o.connections);
    for _ in 0..o.connections {
        let stream = std::net::TcpStream::connect(&o.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        connections.push(Connection {
            stream,
            buf: Vec::with_capacity(4096),
            sent: None,
        });
    }
    let began = Instant::now();
    let deadline = began + o.limit;
    let mut tally = Tally {
        latencies: Vec::with_capacity(end - start),
        failed: 0,
    };
    let mut next = start;
    let mut open = 0;
    for connection in &mut connections {
        if next < end {
            connection.send(&requests[next])?;
            next += 1;
            open += 1;
        }
    }
    let mut chunk = [0u8; 4096];
    while open > 0 && Instant::now() < deadline {
        for connection in &mut connections {
            let Some(sent) = connection.sent else {
                continue;
            };
            match connection.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => connection.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
            let Some(good) = parse(&connection.buf, o.expect.as_bytes())? else {
                continue;
            };
            tally
                .latencies
                .push(u32::try_from(sent.elapsed().as_nanos()).unwrap_or(u32::MAX));
            if !good {
                tally.failed += 1;
                if tally.failed == 1 {
                    eprintln!(
                        "unexpected answer on {}: {}",
                        o.path,
                        String::from_utf8_lossy(&connection.buf[..connection.buf.len().min(300)])
                    );
                }
            }
            if next < end {
                connection.send(&requests[next])?;
                next += 1;
            } else {
                connection.sent = None;
                open -= 1;
            }
        }
    }
    Ok((tally, began.elapsed()))
}

/// Sends requests `next..end` (taken one at a time, shared by all connections) and tallies the
/// answers.
async fn drive(
    o: Arc<Options>,
    requests: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    end: usize,
    deadline: Instant,
) -> io::Result<Tally> {
    let mut stream = TcpStream::connect(&o.addr).await?;
    stream.set_nodelay(true)?;
    let mut tally = Tally::default();
    let mut buf = Vec::with_capacity(4096);
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= end || Instant::now() > deadline {
            return Ok(tally);
        }
        let start = Instant::now();
        stream.write_all(&requests[n]).await?;
        let good = answer(&mut stream, &mut buf, o.expect.as_bytes()).await?;
        tally
            .latencies
            .push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
        if !good {
            tally.failed += 1;
            if tally.failed == 1 {
                eprintln!(
                    "unexpected answer on {}: {}",
                    o.path,
                    String::from_utf8_lossy(&buf[..buf.len().min(300)])
                );
            }
        }
    }
}

/// Runs requests `start..end` over all connections.
async fn phase(
    o: &Arc<Options>,
    requests: &Arc<Vec<Vec<u8>>>,
    start: usize,
    end: usize,
) -> io::Result<(Tally, Duration)> {
    let next = Arc::new(AtomicUsize::new(start));
    let began = Instant::now();
    let deadline = began + o.limit;
    let mut tasks = Vec::new();
    for _ in 0..o.connections {
        tasks.push(tokio::spawn(drive(
            o.clone(),
            requests.clone(),
            next.clone(),
            end,
            deadline,
        )));
    }
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.map_err(io::Error::other)??;
        all.latencies.extend_from_slice(&tally.latencies);
        all.failed += tally.failed;
    }
    Ok((all, began.elapsed()))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[at]) / 1e6
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let o = Arc::new(options()?);
    let requests = Arc::new(prepare(&o, o.warmup + o.requests)?);
    // One thread: the script pins the client to its own core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (warm, _) = if o.spin {
            spin_phase(&o, &requests, 0, o.warmup)?
        } else {
            phase(&o, &requests, 0, o.warmup).await?
        };
        if warm.failed > 0 {
            return Err(format!("{} unexpected answers during the warm-up", warm.failed).into());
        }
        let server = o.server_pid.map(|p| p.to_string());
        let server_before = server.as_deref().map(cpu_ticks).transpose()?;
        let client_before = cpu_ticks("self")?;
        let (mut timed, elapsed) = if o.spin {
            spin_phase(&o, &requests, o.warmup, o.warmup + o.requests)?
        } else {
            phase(&o, &requests, o.warmup, o.warmup + o.requests).await?
        };
        let client_after = cpu_ticks("self")?;
        let server_after = server.as_deref().map(cpu_ticks).transpose()?;
        let done = timed.latencies.len();
        if done == 0 {
            return Err("no request answered".into());
        }
        timed.latencies.sort_unstable();
        // Clock ticks (usually 100 per second) → µs per request.
        let tick_us = 1e6 / ticks_per_second();
        let per_request = |ticks: u64| ticks as f64 * tick_us / done as f64;
        let server_us = match (server_before, server_after) {
            (Some(b), Some(a)) => per_request(a - b),
            _ => f64::NAN,
        };
        let client_ticks = client_after - client_before;
        let server_share = match (server_before, server_after) {
            (Some(b), Some(a)) => (a - b) as f64 * tick_us / 1e6 / elapsed.as_secs_f64(),
            _ => f64::NAN,
        };
        println!(
            "RESULT {:.1} {:.3} {:.3} {} {} {:.2} {:.2} {:.2} {:.2}",
            done as f64 / elapsed.as_secs_f64(),
            percentile(&timed.latencies, 0.50),
            percentile(&timed.latencies, 0.99),
            done,
            timed.failed,
            server_us,
            per_request(client_ticks),
            client_ticks as f64 * tick_us / 1e6 / elapsed.as_secs_f64(),
            server_share,
        );
        Ok(())
    })
}

/// `sysconf(_SC_CLK_TCK)` without `libc`: `getconf` prints it (100 on Linux).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}
