//! Request guards (feature `guard`): keep unwanted traffic out before it costs a MAC.
//!
//! A [`Guard`] belongs to one sender's route and checks the request's head alone, before the
//! body is read: the source address against an [`IpAllowlist`] (CIDR ranges, with loaders for
//! the lists providers publish), and a [`RateLimit`] per source. The source is the peer
//! address, or, only when the peer is one of the configured [`TrustedProxies`], the client
//! address those proxies appended to the one header they are configured to write
//! (`X-Forwarded-For` or `Forwarded`, never a guess); forwarding headers are never honoured by
//! default (anyone can send them).
//!
//! A refused request is answered with its own code and status: `ip_not_allowed` (`403`) or
//! `rate_limited` (`429`, with `Retry-After`). Mount the guard as a `tower` layer in Axum
//! ([`GuardLayer`], feature `axum`) or as Actix-web middleware ([`Guard`] is a `Transform`,
//! feature `actix`).
//!
//! ```
//! use std::net::IpAddr;
//! use http::HeaderMap;
//! use verihook::guard::{Guard, IpAllowlist, IpRanges, RateLimit, TrustedProxies};
//!
//! // GitHub's meta API answer, as fetched by the app (fetching is the app's business).
//! let meta = r#"{"hooks": ["192.30.252.0/22", "185.199.108.0/22", "2a0a:a440::/29"]}"#;
//! let guard = Guard::new("github")
//!     .allow(IpAllowlist::from_github_meta(meta)?)
//!     // The load balancer, which appends the address it received from to X-Forwarded-For.
//!     .trust_proxies(TrustedProxies::x_forwarded_for(IpRanges::parse("10.0.0.0/8")?))
//!     .rate_limit(RateLimit::per_minute(600).burst(50));
//!
//! let mut headers = HeaderMap::new();
//! let github: IpAddr = "192.30.252.7".parse().unwrap();
//! assert!(guard.check(Some(github), &headers).is_ok());
//! let stranger: IpAddr = "203.0.113.9".parse().unwrap();
//! assert_eq!(guard.check(Some(stranger), &headers).unwrap_err().code(), "ip_not_allowed");
//!
//! // Behind the load balancer (10.1.2.3), the client is what it appended last.
//! headers.insert("x-forwarded-for", "203.0.113.9, 192.30.252.7".parse().unwrap());
//! assert!(guard.check(Some("10.1.2.3".parse().unwrap()), &headers).is_ok());
//! // The same header from an untrusted peer is ignored: the peer itself is checked.
//! assert!(guard.check(Some(stranger), &headers).is_err());
//! // A `Forwarded` header is the client's own (the balancer does not write it): ignored.
//! headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
//! headers.insert("forwarded", "for=192.30.252.7".parse().unwrap());
//! assert!(guard.check(Some("10.1.2.3".parse().unwrap()), &headers).is_err());
//! # Ok::<(), verihook::guard::GuardConfigError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use ipnet::IpNet;

use crate::receiver::json_object;

/// At most this many forwarding-header entries are read per request.
const MAX_FORWARDED_ENTRIES: usize = 32;

/// A rate limiter forgets sources back to a full burst every this many checks.
const SWEEP_EVERY: u64 = 4096;

/// A configuration error: a range or list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardConfigError {
    /// An entry is neither an IP address nor a CIDR range.
    BadRange {
        /// The entry, as written (addresses and ranges are not secret).
        entry: String,
    },
    /// A provider's list is not in the format it publishes.
    BadList {
        /// What was expected.
        reason: &'static str,
    },
}

impl fmt::Display for GuardConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRange { entry } => {
                write!(f, "`{entry}` is neither an IP address nor a CIDR range")
            }
            Self::BadList { reason } => write!(f, "cannot read the IP list: {reason}"),
        }
    }
}

impl std::error::Error for GuardConfigError {}

/// A set of CIDR ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpRanges {
    ranges: Vec<IpNet>,
}

impl IpRanges {
    /// Reads ranges separated by commas, white space or newlines; `#` starts a comment. A
    /// bare address is a range of one.
    ///
    /// # Errors
    ///
    /// [`GuardConfigError::BadRange`] for an entry that is not an address or range.
    pub fn parse(text: &str) -> Result<Self, GuardConfigError> {
        let entries = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(|line| line.split([',', ' ', '\t']))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        Self::from_entries(entries)
    }

    fn from_entries<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, GuardConfigError> {
        let ranges = entries
            .into_iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| GuardConfigError::BadRange {
                        entry: entry.chars().take(64).collect(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ranges: IpNet::aggregate(&ranges),
        })
    }

    /// Whether `ip` is in one of the ranges (an IPv4-mapped IPv6 address counts as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.ranges.iter().any(|net| net.contains(&ip))
    }

    /// How many ranges (after merging adjacent and overlapping ones).
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are no ranges.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The source ranges a sender posts from: a request from elsewhere is refused `403`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAllowlist(IpRanges);

impl IpAllowlist {
    /// Ranges as [`IpRanges::parse`] reads them (`"192.30.252.0/22, 2a0a:a440::/29"`).
    ///
    /// # Errors
    ///
    /// [`GuardConfigError`] for an unreadable entry, or no entry at all.
    pub fn parse(text: &str) -> Result<Self, GuardConfigError> {
        Self::non_empty(IpRanges::parse(text)?)
    }

    /// The `hooks` list of GitHub's meta API (`GET https://api.github.com/meta`), from the
    /// JSON the app fetched or saved.
    ///
    /// # Errors
    ///
    /// [`GuardConfigError::BadList`] when the text is not a JSON object with a `hooks` list of
    /// strings; [`GuardConfigError::BadRange`] for an unreadable entry.
    pub fn from_github_meta(json: &str) -> Result<Self, GuardConfigError> {
        Self::json_list(
            json,
            "hooks",
            "GitHub's meta: a JSON object with a `hooks` list",
        )
    }

    /// Stripe's webhook IP list, in either form Stripe publishes: the JSON
    /// (`https://stripe.com/files/ips/ips_webhooks.json`, `{"WEBHOOKS": [...]}`) or the text
    /// (`ips_webhooks.txt`, one address per line).
    ///
    /// # Errors
    ///
    /// [`GuardConfigError`] as [`from_github_meta`](Self::from_github_meta).
    pub fn from_stripe_ips(text: &str) -> Result<Self, GuardConfigError> {
        if text.trim_start().starts_with('{') {
            Self::json_list(
                text,
                "WEBHOOKS",
                "Stripe's JSON: an object with a `WEBHOOKS` list",
            )
        } else {
            Self::parse(text)
        }
    }

    fn json_list(json: &str, member: &str, reason: &'static str) -> Result<Self, GuardConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|_| GuardConfigError::BadList { reason })?;
        let list = value
            .get(member)
            .and_then(serde_json::Value::as_array)
            .ok_or(GuardConfigError::BadList { reason })?;
        let entries = list
            .iter()
            .map(|entry| entry.as_str().ok_or(GuardConfigError::BadList { reason }))
            .collect::<Result<Vec<_>, _>>()?;
        Self::non_empty(IpRanges::from_entries(entries)?)
    }

    fn non_empty(ranges: IpRanges) -> Result<Self, GuardConfigError> {
        if ranges.is_empty() {
            return Err(GuardConfigError::BadList {
                reason: "no range: an empty allowlist would refuse every request",
            });
        }
        Ok(Self(ranges))
    }

    /// Whether `ip` may send.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.contains(ip)
    }

    /// The ranges.
    #[must_use]
    pub fn ranges(&self) -> &IpRanges {
        &self.0
    }
}

/// The header a trusted proxy writes the client's address into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, AWS ALB, most balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The proxies (load balancers, CDNs) in front of the app, and the one header they append the
/// client's address to. None by default: forwarding headers are plain request headers anyone
/// can send.
///
/// Name the header your proxy writes: a proxy appends to its own header and passes any other
/// along untouched, so the other one is whatever the client wrote. Only that header is read,
/// and only the entries trusted hops appended (see [`client_ip`](Self::client_ip)).
///
/// ```
/// use http::HeaderMap;
/// use verihook::guard::{IpRanges, TrustedProxies};
///
/// // nginx at 10.0.0.0/8, with `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`
/// let proxies = TrustedProxies::x_forwarded_for(IpRanges::parse("10.0.0.0/8")?);
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "192.0.2.1, 203.0.113.9".parse().unwrap());
/// headers.insert("forwarded", "for=192.0.2.1".parse().unwrap()); // the client's own: ignored
/// let client = proxies.client_ip("10.1.2.3".parse().unwrap(), &headers);
/// assert_eq!(client, "203.0.113.9".parse::<std::net::IpAddr>().unwrap());
/// # Ok::<(), verihook::guard::GuardConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: IpRanges,
    /// `None` only with no proxies at all.
    header: Option<ProxyHeader>,
}

impl TrustedProxies {
    /// Proxies in `ranges` that append the address they received from to `X-Forwarded-For`
    /// (nginx's `$proxy_add_x_forwarded_for`, HAProxy's `option forwardfor`, AWS ALB, most
    /// load balancers and CDNs). `Forwarded` is then ignored.
    #[must_use]
    pub fn x_forwarded_for(ranges: IpRanges) -> Self {
        Self {
            ranges,
            header: Some(ProxyHeader::XForwardedFor),
        }
    }

    /// Proxies in `ranges` that append a `for=` element to the RFC 7239 `Forwarded` header
    /// (Envoy, Caddy or nginx when configured so). `X-Forwarded-For` is then ignored.
    #[must_use]
    pub fn forwarded(ranges: IpRanges) -> Self {
        Self {
            ranges,
            header: Some(ProxyHeader::Forwarded),
        }
    }

    /// The proxies' ranges.
    #[must_use]
    pub fn ranges(&self) -> &IpRanges {
        &self.ranges
    }

    /// The name of the header read (`x-forwarded-for` or `forwarded`); `None` with no proxies.
    #[must_use]
    pub fn header_name(&self) -> Option<&'static str> {
        self.header
            .filter(|_| !self.ranges.is_empty())
            .map(ProxyHeader::name)
    }

    /// The client address of a request from `peer`: `peer` itself unless it is a trusted
    /// proxy. From a trusted proxy, the configured header is read from its last entry back
    /// (the entry the nearest proxy appended): while the address at hand is a trusted proxy,
    /// step to the entry it appended; the first address that is not a trusted proxy is the
    /// client. Entries left of it were written by the client, and are never read.
    ///
    /// An entry that is not an address (`unknown`, an obfuscated name, a `Forwarded` element
    /// without `for=`) stops the walk at the proxy that wrote it, as does running out of
    /// entries: the source is then that proxy. At most 32 entries are read, whatever the
    /// header's length.
    #[must_use]
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        let Some(header) = self.header else {
            return peer;
        };
        if !self.ranges.contains(peer) {
            return peer;
        }
        let mut hop = peer;
        for entry in nearest_entries(headers, header.name()) {
            let address = match header {
                ProxyHeader::XForwardedFor => node_address(entry),
                ProxyHeader::Forwarded => forwarded_for(entry),
            };
            match address {
                Some(ip) => {
                    hop = ip.to_canonical();
                    if !self.ranges.contains(hop) {
                        return hop;
                    }
                }
                None => return hop,
            }
        }
        hop
    }
}

/// The comma-separated entries of every `name` header, the last-written (nearest proxy's)
/// first, at most `MAX_FORWARDED_ENTRIES` of them: a long header costs no more to read (the
/// value is split from its end, never scanned whole). An entry that is not UTF-8 is empty.
fn nearest_entries<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|value| value.as_bytes().rsplit(|byte| *byte == b','))
        .map(|entry| std::str::from_utf8(entry).unwrap_or("").trim())
        .take(MAX_FORWARDED_ENTRIES)
}

/// The `for=` address of one `Forwarded` element; `None` when it has no `for=` or its node is
/// not an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            Some(node_address(value.trim()))
        } else {
            None
        }
    })?
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`,
/// `2001:db8::1`.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim_matches('"');
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// How many sources a [`RateLimit`] tracks unless told otherwise.
pub const DEFAULT_MAX_SOURCES: usize = 16_384;

/// A rate limit per source address (IPv6 sources by their /64, the block one host usually
/// holds): a steady rate and a burst, answered `429` with `Retry-After` when exceeded.
///
/// In memory, per process: a GCRA limiter (one deadline per source) in a table of at most
/// [`max_sources`](Self::max_sources) entries ([`DEFAULT_MAX_SOURCES`] by default), so memory
/// is bounded whatever sources are claimed. A source is forgotten once it is back to a full
/// burst (forgetting it then changes nothing). When the table is full of sources still
/// counting, every new source shares one overflow entry with the same limit: a flood of fresh
/// sources gets one source's rate between them, not one each, until entries free up.
///
/// ```
/// use verihook::guard::RateLimit;
///
/// let limit = RateLimit::per_minute(6).max_sources(1_000);
/// let source = "203.0.113.9".parse().unwrap();
/// for _ in 0..6 {
///     assert!(limit.check(source).is_ok());
/// }
/// let wait = limit.check(source).unwrap_err(); // about 10 s, one request's share of a minute
/// assert!(wait.as_secs() <= 10);
/// ```
pub struct RateLimit {
    /// The time one request takes from the budget (GCRA's emission interval), in ns.
    interval: u64,
    /// Requests allowed at once.
    burst: u32,
    max_sources: usize,
    started: Instant,
    table: Mutex<SourceTable>,
}

/// Each tracked source's theoretical arrival time (ns since `started`): the time its budget
/// is full again.
#[derive(Debug, Default)]
struct SourceTable {
    deadlines: HashMap<u128, u64>,
    /// The one entry every new source shares while `deadlines` is full.
    overflow: u64,
    /// No tracked deadline falls before this, so no sweep can free an entry earlier.
    next_sweep: u64,
    checks: u64,
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("burst", &self.burst)
            .field("max_sources", &self.max_sources)
            .field("sources", &self.sources())
            .finish()
    }
}

impl RateLimit {
    /// `n` requests per second per source (at least 1), with a burst of `n`.
    #[must_use]
    pub fn per_second(n: u32) -> Self {
        Self::with_rate(Duration::from_secs(1), n)
    }

    /// `n` requests per minute per source (at least 1), with a burst of `n`.
    #[must_use]
    pub fn per_minute(n: u32) -> Self {
        Self::with_rate(Duration::from_secs(60), n)
    }

    /// The same steady rate, with `n` requests (at least 1) allowed at once.
    #[must_use]
    pub fn burst(mut self, n: u32) -> Self {
        self.burst = n.max(1);
        self
    }

    /// Track at most `n` sources (at least 1; [`DEFAULT_MAX_SOURCES`] unless set). Beyond
    /// that, new sources share one overflow entry (see the type's docs).
    #[must_use]
    pub fn max_sources(mut self, n: usize) -> Self {
        self.max_sources = n.max(1);
        self
    }

    fn with_rate(period: Duration, n: u32) -> Self {
        let n = n.max(1);
        let interval = u64::try_from(period.as_nanos() / u128::from(n)).unwrap_or(u64::MAX);
        Self {
            interval: interval.max(1),
            burst: n,
            max_sources: DEFAULT_MAX_SOURCES,
            started: Instant::now(),
            table: Mutex::new(SourceTable::default()),
        }
    }

    /// Counts one request from `source`; `Err(wait)` when it is over the limit, `wait` being
    /// how long until the next request would be allowed.
    ///
    /// # Errors
    ///
    /// The wait, when `source` is over its limit.
    pub fn check(&self, source: IpAddr) -> Result<(), Duration> {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(source, now)
    }

    /// [`check`](Self::check) at `now` ns after `started`.
    fn check_at(&self, source: IpAddr, now: u64) -> Result<(), Duration> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.checks = table.checks.wrapping_add(1);
        if table.checks.is_multiple_of(SWEEP_EVERY) {
            table.sweep(now);
        }
        let key = rate_key(source);
        if !table.deadlines.contains_key(&key) && table.deadlines.len() >= self.max_sources {
            if now >= table.next_sweep {
                table.sweep(now);
            }
            if table.deadlines.len() >= self.max_sources {
                return self.spend(&mut table.overflow, now);
            }
        }
        let mut deadline = table.deadlines.get(&key).copied().unwrap_or(now);
        let result = self.spend(&mut deadline, now);
        table.deadlines.insert(key, deadline);
        result
    }

    /// GCRA: the request is allowed when the source's deadline, pushed one interval on, is
    /// no further ahead than the burst allows.
    fn spend(&self, deadline: &mut u64, now: u64) -> Result<(), Duration> {
        let tolerance = self
            .interval
            .saturating_mul(u64::from(self.burst).saturating_sub(1));
        let start = (*deadline).max(now);
        let ahead = start - now;
        if ahead > tolerance {
            return Err(Duration::from_nanos(ahead - tolerance));
        }
        *deadline = start.saturating_add(self.interval);
        Ok(())
    }

    /// How many sources the limiter tracks now (at most [`max_sources`](Self::max_sources);
    /// the overflow entry is not counted).
    #[must_use]
    pub fn sources(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .deadlines
            .len()
    }
}

impl SourceTable {
    /// Forgets the sources whose budget is full again at `now`, and sets the next sweep for
    /// when an eighth of those left will be: a sweep walks the whole table, so each one must
    /// free a share of it (sweeping again at the first entry's deadline would let a client that
    /// keeps the table full cost one whole walk per request).
    fn sweep(&mut self, now: u64) {
        self.deadlines.retain(|_, deadline| *deadline > now);
        let mut deadlines: Vec<u64> = self.deadlines.values().copied().collect();
        let share = deadlines.len() / 8;
        self.next_sweep = match deadlines.is_empty() {
            true => now,
            false => *deadlines.select_nth_unstable(share).1,
        };
    }
}

/// The key a source is limited by: an IPv4 address (as its IPv4-mapped IPv6 form), or an IPv6
/// address's /64.
fn rate_key(source: IpAddr) -> u128 {
    match source.to_canonical() {
        IpAddr::V6(v6) => u128::from(v6) & !((1u128 << 64) - 1),
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
    }
}

/// Why a guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardRejection {
    /// The source is not in the sender's allowlist, or its address is unknown.
    NotAllowed {
        /// The source address, when known.
        source: Option<IpAddr>,
    },
    /// The source sent more than its rate allows.
    RateLimited {
        /// How long until it may send again.
        retry_after: Duration,
    },
}

impl GuardRejection {
    /// `ip_not_allowed` or `rate_limited`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "ip_not_allowed",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// `403` or `429`.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `Retry-After` value (whole seconds, rounded up, at least 1) for a rate limit.
    #[must_use]
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            Self::RateLimited { retry_after } => {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Some(HeaderValue::from(seconds.max(1)))
            }
            Self::NotAllowed { .. } => None,
        }
    }

    /// The JSON body: `{"error":"<code>","message":"..."}` (the source address is not echoed).
    #[must_use]
    pub fn json_body(&self) -> Bytes {
        let message = match self {
            Self::NotAllowed { .. } => "this source may not send to this endpoint",
            Self::RateLimited { .. } => "too many requests from this source; retry later",
        };
        json_object([("error", self.code()), ("message", message)]).into()
    }

    /// The whole answer, for any framework: status, `Content-Type`, `Retry-After` when rate
    /// limited, `Connection: close`, and the JSON body.
    #[must_use]
    pub fn response<B: From<Bytes>>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.json_body()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        if let Some(value) = self.retry_after() {
            headers.insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl fmt::Display for GuardRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed { source: Some(ip) } => write!(f, "{ip} is not an allowed source"),
            Self::NotAllowed { source: None } => {
                f.write_str("the source address is unknown, so not an allowed source")
            }
            Self::RateLimited { retry_after } => {
                write!(f, "rate limited for {} ms", retry_after.as_millis())
            }
        }
    }
}

impl std::error::Error for GuardRejection {}

#[derive(Clone)]
struct GuardConfig {
    sender: Arc<str>,
    allow: Option<IpAllowlist>,
    proxies: TrustedProxies,
    /// Shared by the guard's clones: one limiter counts every route the guard is on.
    limit: Option<Arc<RateLimit>>,
}

/// One sender's guards: an allowlist, trusted proxies and a rate limit, each optional. Cheap
/// to clone (shared).
#[derive(Clone)]
pub struct Guard(Arc<GuardConfig>);

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("sender", &self.0.sender)
            .field("allow", &self.0.allow.as_ref().map(|a| a.ranges().len()))
            .field("trusted_proxies", &self.0.proxies.ranges.len())
            .field("proxy_header", &self.0.proxies.header_name())
            .field("rate_limit", &self.0.limit)
            .finish()
    }
}

impl Guard {
    /// Guards for the sender called `sender` (the name appears in metrics and logs); nothing
    /// is checked until a guard is added.
    #[must_use]
    pub fn new(sender: impl Into<Arc<str>>) -> Self {
        Self(Arc::new(GuardConfig {
            sender: sender.into(),
            allow: None,
            proxies: TrustedProxies::default(),
            limit: None,
        }))
    }

    fn edit(self, edit: impl FnOnce(&mut GuardConfig)) -> Self {
        let mut config = Arc::unwrap_or_clone(self.0);
        edit(&mut config);
        Self(Arc::new(config))
    }

    /// Only sources in `list` may send.
    #[must_use]
    pub fn allow(self, list: IpAllowlist) -> Self {
        self.edit(|c| c.allow = Some(list))
    }

    /// Believe the forwarding header these proxies append to, and only the entries they
    /// appended (see [`TrustedProxies::client_ip`]).
    #[must_use]
    pub fn trust_proxies(self, proxies: TrustedProxies) -> Self {
        self.edit(|c| c.proxies = proxies)
    }

    /// Limit each source to `limit`.
    #[must_use]
    pub fn rate_limit(self, limit: RateLimit) -> Self {
        self.edit(|c| c.limit = Some(Arc::new(limit)))
    }

    /// The sender's name.
    #[must_use]
    pub fn sender(&self) -> &str {
        &self.0.sender
    }

    /// The forwarding header this guard reads, if any.
    #[cfg(feature = "actix")]
    fn proxy_header(&self) -> Option<&'static str> {
        self.0.proxies.header_name()
    }

    /// Checks a request from `peer` (the connection's address; `None` when the server does
    /// not say) with `headers`: the allowlist, then the rate limit. Headers only: run it
    /// before the body is read. Without a peer address an allowlist refuses, and the rate
    /// limit counts every such request as one source.
    ///
    /// # Errors
    ///
    /// The [`GuardRejection`] to answer with.
    pub fn check(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Result<(), GuardRejection> {
        #[cfg(feature = "tracing")]
        if peer.is_none() {
            static WARNED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    target: "verihook", sender = %self.0.sender,
                    "guard: the server gives no peer address (on Axum, serve with \
                     into_make_service_with_connect_info::<SocketAddr>()); an allowlist refuses \
                     every request, a rate limit counts them all as one source"
                );
            }
        }
        let source = peer.map(|peer| self.0.proxies.client_ip(peer, headers));
        let result = self.decide(source);
        if let Err(rejection) = &result {
            crate::observe::guard_rejected(&self.0.sender, rejection.code());
            #[cfg(feature = "tracing")]
            tracing::debug!(sender = %self.0.sender, code = rejection.code(), "guard refused a request");
        }
        result
    }

    fn decide(&self, source: Option<IpAddr>) -> Result<(), GuardRejection> {
        if let Some(allow) = &self.0.allow {
            if !source.is_some_and(|ip| allow.allows(ip)) {
                return Err(GuardRejection::NotAllowed { source });
            }
        }
        if let Some(limit) = &self.0.limit {
            let key = source.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            limit
                .check(key)
                .map_err(|retry_after| GuardRejection::RateLimited { retry_after })?;
        }
        Ok(())
    }
}

#[cfg(feature = "axum")]
pub use self::tower::{GuardLayer, GuardService};

#[cfg(feature = "axum")]
mod tower {
    use std::future::Future;
    use std::net::{IpAddr, SocketAddr};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;

    use super::Guard;

    /// The [`Guard`] as a `tower` layer (feature `axum`): put it on a sender's route, and a
    /// refused request is answered before the route (or its body) is touched.
    ///
    /// The peer address comes from Axum's `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`), or a `SocketAddr` request
    /// extension set by another layer.
    ///
    /// ```no_run
    /// use std::net::SocketAddr;
    /// use axum::{routing::post, Router};
    /// use verihook::guard::{Guard, GuardLayer, IpAllowlist, RateLimit};
    /// # async fn run(meta: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// let github = Guard::new("github")
    ///     .allow(IpAllowlist::from_github_meta(meta)?)
    ///     .rate_limit(RateLimit::per_second(20).burst(100));
    /// let app: Router = Router::new()
    ///     .route("/webhooks/github", post(|| async { "ok" }).layer(GuardLayer::new(github)));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    /// # Ok(()) }
    /// ```
    #[derive(Clone, Debug)]
    pub struct GuardLayer {
        guard: Guard,
    }

    impl GuardLayer {
        /// The layer for `guard`.
        #[must_use]
        pub fn new(guard: Guard) -> Self {
            Self { guard }
        }
    }

    impl<S> tower_layer::Layer<S> for GuardLayer {
        type Service = GuardService<S>;

        fn layer(&self, inner: S) -> GuardService<S> {
            GuardService {
                inner,
                guard: self.guard.clone(),
            }
        }
    }

    /// The service [`GuardLayer`] wraps a route in.
    #[derive(Clone, Debug)]
    pub struct GuardService<S> {
        inner: S,
        guard: Guard,
    }

    fn peer<B>(request: &http::Request<B>) -> Option<IpAddr> {
        let extensions = request.extensions();
        extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .or_else(|| extensions.get::<SocketAddr>().map(SocketAddr::ip))
    }

    impl<S, B, R> tower_service::Service<http::Request<B>> for GuardService<S>
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
        R: From<Bytes>,
    {
        type Response = http::Response<R>;
        type Error = S::Error;
        type Future = GuardFuture<S::Future, R>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: http::Request<B>) -> Self::Future {
            match self.guard.check(peer(&request), request.headers()) {
                Ok(()) => GuardFuture::Inner {
                    future: self.inner.call(request),
                },
                Err(rejection) => GuardFuture::Refused {
                    response: Some(rejection.response()),
                },
            }
        }
    }

    pin_project_lite::pin_project! {
        /// The answer of a [`GuardService`]: the route's, or the guard's refusal.
        #[project = GuardFutureProjection]
        #[derive(Debug)]
        pub enum GuardFuture<F, R> {
            /// The route runs.
            Inner {
                #[pin]
                future: F,
            },
            /// The guard refused.
            Refused {
                response: Option<http::Response<R>>,
            },
        }
    }

    impl<F, R, E> Future for GuardFuture<F, R>
    where
        F: Future<Output = Result<http::Response<R>, E>>,
    {
        type Output = Result<http::Response<R>, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.project() {
                GuardFutureProjection::Inner { future } => future.poll(cx),
                GuardFutureProjection::Refused { response } => match response.take() {
                    Some(response) => Poll::Ready(Ok(response)),
                    None => Poll::Pending,
                },
            }
        }
    }
}

#[cfg(feature = "actix")]
mod actix {
    use std::future::{ready, Future, Ready};
    use std::pin::Pin;
    use std::rc::Rc;

    use actix_web::body::{BoxBody, EitherBody};
    use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
    use actix_web::HttpResponse;

    use super::{Guard, GuardRejection};

    /// The [`Guard`] as Actix-web middleware: `.wrap(guard)` on a sender's resource or scope;
    /// a refused request is answered before the handler (or its body) is touched. The peer
    /// address is the connection's (`HttpRequest::peer_addr`).
    impl<S, B> Transform<S, ServiceRequest> for Guard
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
            + 'static,
        B: 'static,
    {
        type Response = ServiceResponse<EitherBody<B, BoxBody>>;
        type Error = actix_web::Error;
        type Transform = GuardMiddleware<S>;
        type InitError = ();
        type Future = Ready<Result<Self::Transform, ()>>;

        fn new_transform(&self, service: S) -> Self::Future {
            ready(Ok(GuardMiddleware {
                service: Rc::new(service),
                guard: self.clone(),
            }))
        }
    }

    /// The service a [`Guard`] wraps an Actix-web resource in.
    #[derive(Debug)]
    pub struct GuardMiddleware<S> {
        service: Rc<S>,
        guard: Guard,
    }

    fn refusal(rejection: &GuardRejection) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(rejection.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::FORBIDDEN);
        let mut response = HttpResponse::build(status);
        response
            .content_type("application/json")
            .insert_header(("connection", "close"));
        if let Some(seconds) = rejection
            .retry_after()
            .and_then(|v| v.to_str().ok().map(str::to_owned))
        {
            response.insert_header(("retry-after", seconds));
        }
        response.body(rejection.json_body())
    }

    impl<S, B> Service<ServiceRequest> for GuardMiddleware<S>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
            + 'static,
        B: 'static,
    {
        type Response = ServiceResponse<EitherBody<B, BoxBody>>;
        type Error = actix_web::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

        forward_ready!(service);

        fn call(&self, request: ServiceRequest) -> Self::Future {
            let peer = request.peer_addr().map(|addr| addr.ip());
            // Only the header the trusted proxies write is read; the other is never copied.
            let mut headers = http::HeaderMap::new();
            if let Some(name) = self.guard.proxy_header() {
                for value in request.headers().get_all(name) {
                    if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
                        headers.append(http::HeaderName::from_static(name), value);
                    }
                }
            }
            match self.guard.check(peer, &headers) {
                Ok(()) => {
                    let service = Rc::clone(&self.service);
                    Box::pin(async move {
                        service
                            .call(request)
                            .await
                            .map(ServiceResponse::map_into_left_body)
                    })
                }
                Err(rejection) => {
                    let response = refusal(&rejection);
                    Box::pin(
                        async move { Ok(request.into_response(response).map_into_right_body()) },
                    )
                }
            }
        }
    }
}

#[cfg(feature = "actix")]
pub use self::actix::GuardMiddleware;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_addresses_ranges_and_comments() {
        let ranges = IpRanges::parse("10.0.0.0/8, 192.0.2.1 # office\n2001:db8::/32\n\n").unwrap();
        assert!(ranges.contains(ip("10.200.1.1")));
        assert!(ranges.contains(ip("192.0.2.1")));
        assert!(!ranges.contains(ip("192.0.2.2")));
        assert!(ranges.contains(ip("2001:db8::5")));
        assert!(ranges.contains(ip("::ffff:10.0.0.1")));
        let err = IpRanges::parse("10.0.0.0/33").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`10.0.0.0/33` is neither an IP address nor a CIDR range"
        );
        assert!(IpAllowlist::parse(" # nothing\n").is_err());
    }

    #[test]
    fn provider_lists_load_in_their_published_formats() {
        let github = IpAllowlist::from_github_meta(
            r#"{"verifiable_password_authentication":false,"hooks":["192.30.252.0/22","185.199.108.0/22","140.82.112.0/20","143.55.64.0/20","2a0a:a440::/29","2606:50c0::/32"],"web":["1.2.3.4/32"]}"#,
        )
        .unwrap();
        assert!(github.allows(ip("140.82.115.4")));
        assert!(!github.allows(ip("1.2.3.4")));
        assert!(github.allows(ip("2606:50c0::1")));
        let stripe_json =
            IpAllowlist::from_stripe_ips(r#"{"WEBHOOKS":["3.18.12.63","3.130.192.231"]}"#).unwrap();
        let stripe_text = IpAllowlist::from_stripe_ips("3.18.12.63\n3.130.192.231\n").unwrap();
        assert_eq!(stripe_json, stripe_text);
        assert!(stripe_text.allows(ip("3.18.12.63")));
        assert!(!stripe_text.allows(ip("3.18.12.64")));
        for bad in [
            "",
            "{}",
            r#"{"hooks":"1.2.3.4"}"#,
            r#"{"hooks":[1]}"#,
            "[1,2]",
        ] {
            assert!(IpAllowlist::from_github_meta(bad).is_err(), "{bad}");
        }
        assert!(IpAllowlist::from_stripe_ips(r#"{"WEBHOOKS":["nope"]}"#).is_err());
    }

    fn ranges(text: &str) -> IpRanges {
        IpRanges::parse(text).unwrap()
    }

    #[test]
    fn x_forwarded_for_counts_only_from_trusted_proxies() {
        let proxies = TrustedProxies::x_forwarded_for(ranges("10.0.0.0/8"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        // From the trusted proxy: the nearest untrusted entry, not the leftmost (spoofable).
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("203.0.113.7")
        );
        // From anyone else: the peer, header ignored.
        assert_eq!(
            proxies.client_ip(ip("203.0.113.50"), &headers),
            ip("203.0.113.50")
        );
        // Not by default.
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
        assert_eq!(TrustedProxies::default().header_name(), None);
        // The other header is the client's own: ignored, whatever it says.
        headers.insert("forwarded", "for=192.0.2.60".parse().unwrap());
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("203.0.113.7")
        );
        headers.remove("x-forwarded-for");
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        // Several header lines: the last one is the nearest proxy's.
        headers.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.8, 10.0.0.3".parse().unwrap());
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("203.0.113.8")
        );
        // Every entry a trusted hop: the farthest of them is the source.
        headers.insert("x-forwarded-for", "10.0.0.9, 10.0.0.3".parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.9"));
        // Not an address: the walk stops at the proxy that wrote it.
        headers.insert(
            "x-forwarded-for",
            "192.0.2.1, unknown, 10.0.0.3".parse().unwrap(),
        );
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.3"));
    }

    #[test]
    fn forwarded_counts_only_from_trusted_proxies() {
        let proxies = TrustedProxies::forwarded(ranges("10.0.0.0/8, 2001:db8:ffff::/48"));
        assert_eq!(proxies.header_name(), Some("forwarded"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\", for=\"[2001:db8:ffff::1]\""
                .parse()
                .unwrap(),
        );
        // The other header is the client's own: ignored.
        headers.insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            proxies.client_ip(ip("203.0.113.1"), &headers),
            ip("203.0.113.1")
        );
        headers.insert("forwarded", "for=unknown".parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        // An element without `for=` stops the walk too.
        headers.insert("forwarded", "for=192.0.2.9, proto=https".parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        headers.insert(
            "forwarded",
            "For=\"192.0.2.43:47011\";by=10.0.0.1".parse().unwrap(),
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("192.0.2.43")
        );
        headers.remove("forwarded");
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_parsing_survives_arbitrary_bytes() {
        for proxies in [
            TrustedProxies::x_forwarded_for(ranges("0.0.0.0/0, ::/0")),
            TrustedProxies::forwarded(ranges("0.0.0.0/0, ::/0")),
        ] {
            for junk in [
                &b"\xff\xfe"[..],
                b"for=",
                b"for=[",
                b"for=\"[::1",
                b";;,,==",
                b"for=1.2.3.4:99999",
                b"[",
                b"\xff,\xfe",
            ] {
                let mut headers = HeaderMap::new();
                headers.insert("forwarded", HeaderValue::from_bytes(junk).unwrap());
                headers.insert("x-forwarded-for", HeaderValue::from_bytes(junk).unwrap());
                assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
            }
        }
    }

    #[test]
    fn at_most_32_entries_are_read() {
        let proxies = TrustedProxies::x_forwarded_for(ranges("10.0.0.0/8"));
        let mut headers = HeaderMap::new();
        let hops = |n| vec!["10.0.0.2"; n].join(",");
        headers.insert(
            "x-forwarded-for",
            format!("192.0.2.1,{}", hops(31)).parse().unwrap(),
        );
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("192.0.2.1"));
        headers.insert(
            "x-forwarded-for",
            format!("192.0.2.1,{}", hops(32)).parse().unwrap(),
        );
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.2"));
        let long = format!("192.0.2.1,{}", hops(10_000));
        headers.insert("x-forwarded-for", long.parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.2"));
    }

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn rate_limit_follows_its_rate_and_burst() {
        let limit = RateLimit::per_minute(6).burst(2);
        let source = ip("192.0.2.1");
        assert!(limit.check_at(source, 0).is_ok());
        assert!(limit.check_at(source, 0).is_ok());
        assert_eq!(
            limit.check_at(source, SECOND).unwrap_err(),
            Duration::from_secs(9)
        );
        assert!(limit.check_at(source, 10 * SECOND).is_ok());
        assert!(limit.check_at(source, 10 * SECOND).is_err());
        // Refusals do not use the budget up.
        assert!(limit.check_at(source, 20 * SECOND).is_ok());
        // Back to a full burst after a quiet spell, and forgotten then.
        assert!(limit.check_at(source, 100 * SECOND).is_ok());
        assert!(limit.check_at(source, 100 * SECOND).is_ok());
        assert!(limit.check_at(source, 100 * SECOND).is_err());
    }

    #[test]
    fn a_full_table_shares_one_entry_between_new_sources() {
        let limit = RateLimit::per_minute(6).burst(1).max_sources(2);
        assert!(limit.check_at(ip("192.0.2.1"), 0).is_ok());
        assert!(limit.check_at(ip("192.0.2.2"), 0).is_ok());
        // Full: the new sources share one entry, one request per 10 s between them.
        assert!(limit.check_at(ip("192.0.2.3"), 0).is_ok());
        assert!(limit.check_at(ip("192.0.2.4"), 0).is_err());
        assert!(limit.check_at(ip("192.0.2.5"), SECOND).is_err());
        assert_eq!(limit.sources(), 2);
        // Tracked sources keep their own count.
        assert!(limit.check_at(ip("192.0.2.1"), SECOND).is_err());
        // Once tracked sources are back to a full burst their entries are free for new ones.
        assert!(limit.check_at(ip("192.0.2.6"), 10 * SECOND).is_ok());
        assert!(limit.check_at(ip("192.0.2.6"), 10 * SECOND).is_err());
        assert_eq!(limit.sources(), 1);
        for i in 0..50_000u32 {
            let _ = limit.check_at(IpAddr::from(i.to_be_bytes()), 11 * SECOND);
        }
        assert_eq!(limit.sources(), 2);
    }

    #[test]
    fn rate_limit_counts_per_source_and_ipv6_by_64() {
        let limit = RateLimit::per_minute(1).burst(2);
        assert!(limit.check(ip("192.0.2.1")).is_ok());
        assert!(limit.check(ip("192.0.2.1")).is_ok());
        let wait = limit.check(ip("192.0.2.1")).unwrap_err();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(limit.check(ip("192.0.2.2")).is_ok());
        assert!(limit.check(ip("2001:db8::1")).is_ok());
        assert!(limit.check(ip("2001:db8::ffff")).is_ok());
        assert!(limit.check(ip("2001:db8::1234")).is_err());
        assert_eq!(limit.sources(), 3);
        let rejection = GuardRejection::RateLimited { retry_after: wait };
        let seconds: u64 = rejection
            .retry_after()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((51..=60).contains(&seconds));
        assert_eq!(
            GuardRejection::RateLimited {
                retry_after: Duration::from_millis(1)
            }
            .retry_after()
            .unwrap(),
            "1"
        );
    }

    #[test]
    fn an_allowlist_refuses_an_unknown_peer() {
        let guard = Guard::new("github").allow(IpAllowlist::parse("192.0.2.0/24").unwrap());
        let rejection = guard.check(None, &HeaderMap::new()).unwrap_err();
        assert_eq!(rejection.code(), "ip_not_allowed");
        assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
        let response: http::Response<Bytes> = rejection.response();
        assert_eq!(response.headers()["connection"], "close");
        assert!(!String::from_utf8_lossy(response.body()).contains("192.0.2"));
    }
}
