//! Request guards (feature `guards`): keep unwanted traffic out before it costs a MAC.
//!
//! A [`Guard`] belongs to one sender's route and checks the request's head alone, before the
//! body is read: the source address against an [`IpAllowlist`] (CIDR ranges, with loaders for
//! the lists providers publish), and a [`RateLimit`] per source. The source is the peer
//! address, or, only when the peer is one of the configured [`TrustedProxies`], the client
//! address that proxy wrote into `Forwarded` or `X-Forwarded-For`; those headers are never
//! honoured by default (anyone can send them).
//!
//! A refused request is answered with its own code and status: `ip_not_allowed` (`403`) or
//! `rate_limited` (`429`, with `Retry-After`). Mount the guard as a `tower` layer in Axum
//! ([`GuardLayer`], feature `axum`) or as Actix-web middleware ([`Guard`] is a `Transform`,
//! feature `actix`).
//!
//! ```
//! use std::net::IpAddr;
//! use http::HeaderMap;
//! use verihook::guard::{Guard, IpAllowlist, RateLimit, TrustedProxies};
//!
//! // GitHub's meta API answer, as fetched by the app (fetching is the app's business).
//! let meta = r#"{"hooks": ["192.30.252.0/22", "185.199.108.0/22", "2a0a:a440::/29"]}"#;
//! let guard = Guard::new("github")
//!     .allow(IpAllowlist::from_github_meta(meta)?)
//!     .trust_proxies(TrustedProxies::parse("10.0.0.0/8")?)
//!     .rate_limit(RateLimit::per_minute(600).burst(50));
//!
//! let mut headers = HeaderMap::new();
//! let github: IpAddr = "192.30.252.7".parse().unwrap();
//! assert!(guard.check(Some(github), &headers).is_ok());
//! let stranger: IpAddr = "203.0.113.9".parse().unwrap();
//! assert_eq!(guard.check(Some(stranger), &headers).unwrap_err().code(), "ip_not_allowed");
//!
//! // Behind the load balancer (10.1.2.3), the client is what it wrote last.
//! headers.insert("x-forwarded-for", "203.0.113.9, 192.30.252.7".parse().unwrap());
//! assert!(guard.check(Some("10.1.2.3".parse().unwrap()), &headers).is_ok());
//! // The same header from an untrusted peer is ignored: the peer itself is checked.
//! assert!(guard.check(Some(stranger), &headers).is_err());
//! # Ok::<(), verihook::guard::GuardConfigError>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, StatusCode};
use ipnet::IpNet;

use crate::receiver::json_object;

/// At most this many `Forwarded` / `X-Forwarded-For` entries are read per request.
const MAX_FORWARDED_ENTRIES: usize = 32;

/// A rate limiter forgets sources idle for a full period every this many checks.
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

/// The proxies (load balancers, CDNs) whose `Forwarded` / `X-Forwarded-For` headers are
/// believed. None by default: those headers are plain request headers anyone can send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(IpRanges);

impl TrustedProxies {
    /// Ranges as [`IpRanges::parse`] reads them.
    ///
    /// # Errors
    ///
    /// [`GuardConfigError::BadRange`] for an unreadable entry.
    pub fn parse(text: &str) -> Result<Self, GuardConfigError> {
        IpRanges::parse(text).map(Self)
    }

    /// The client address of a request from `peer`: `peer` itself unless it is a trusted
    /// proxy; else, reading the proxies' entries from the nearest back (`Forwarded` when
    /// present, else `X-Forwarded-For`), the first address that is not a trusted proxy. An
    /// entry that is not an address (`unknown`, an obfuscated name) stops the walk at the
    /// proxy that wrote it.
    #[must_use]
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.0.contains(peer) {
            return peer;
        }
        // Nearest proxy first, at most `MAX_FORWARDED_ENTRIES` read whatever the header holds.
        let nearest_first: Vec<Option<IpAddr>> = if headers.contains_key(http::header::FORWARDED) {
            nearest_entries(headers, http::header::FORWARDED.as_str())
                .filter_map(forwarded_for)
                .collect()
        } else {
            nearest_entries(headers, "x-forwarded-for")
                .map(node_address)
                .collect()
        };
        let mut client = peer;
        for entry in nearest_first {
            match entry {
                Some(ip) => {
                    client = ip.to_canonical();
                    if !self.0.contains(client) {
                        return client;
                    }
                }
                None => return client,
            }
        }
        client
    }
}

/// The comma-separated entries of every `name` header, the last-written (nearest proxy's)
/// first, at most `MAX_FORWARDED_ENTRIES` of them: a long header costs no more to read.
fn nearest_entries<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or("").rsplit(','))
        .map(str::trim)
        .take(MAX_FORWARDED_ENTRIES)
}

/// The `for=` address of one `Forwarded` element (`None` inside when it is not an address);
/// `None` when the element has no `for=`.
fn forwarded_for(element: &str) -> Option<Option<IpAddr>> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| node_address(value.trim()))
    })
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

/// A rate limit per source address (IPv6 sources by their /64, the block one host usually
/// holds): a steady rate and a burst, answered `429` with `Retry-After` when exceeded.
///
/// In memory, per process (a GCRA limiter from the `governor` crate); sources idle for a full
/// period are forgotten as checks go by, so memory follows the sources of the last period.
pub struct RateLimit {
    quota: Quota,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("quota", &self.quota)
            .field("sources", &self.limiter.len())
            .finish()
    }
}

impl RateLimit {
    /// `n` requests per second per source (at least 1), with a burst of `n`.
    #[must_use]
    pub fn per_second(n: u32) -> Self {
        Self::with_quota(Quota::per_second(non_zero(n)))
    }

    /// `n` requests per minute per source (at least 1), with a burst of `n`.
    #[must_use]
    pub fn per_minute(n: u32) -> Self {
        Self::with_quota(Quota::per_minute(non_zero(n)))
    }

    /// The same steady rate, with `n` requests (at least 1) allowed at once.
    #[must_use]
    pub fn burst(self, n: u32) -> Self {
        Self::with_quota(self.quota.allow_burst(non_zero(n)))
    }

    fn with_quota(quota: Quota) -> Self {
        let clock = DefaultClock::default();
        Self {
            quota,
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request from `source`; `Err(wait)` when it is over the limit, `wait` being
    /// how long until the next request would be allowed.
    ///
    /// # Errors
    ///
    /// The wait, when `source` is over its limit.
    pub fn check(&self, source: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&rate_key(source))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// How many sources the limiter remembers now.
    #[must_use]
    pub fn sources(&self) -> usize {
        self.limiter.len()
    }
}

fn non_zero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// The key a source is limited by: an IPv4 address, or an IPv6 address's /64.
fn rate_key(source: IpAddr) -> IpAddr {
    match source.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
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
            .field("trusted_proxies", &self.0.proxies.0.len())
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

    /// Believe `Forwarded` / `X-Forwarded-For` from these proxies (see
    /// [`TrustedProxies::client_ip`]).
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
            if !WARNED.swap(true, Ordering::Relaxed) {
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
            let mut headers = http::HeaderMap::new();
            for name in ["forwarded", "x-forwarded-for"] {
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

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
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
        // Forwarded wins over X-Forwarded-For, with quoted IPv6 and ports.
        headers.insert(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("2001:db8:cafe::17")
        );
        headers.insert("forwarded", "for=unknown".parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        headers.insert("forwarded", "for=\"192.0.2.43:47011\"".parse().unwrap());
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers),
            ip("192.0.2.43")
        );
    }

    #[test]
    fn forwarded_parsing_survives_arbitrary_bytes() {
        let proxies = TrustedProxies::parse("0.0.0.0/0, ::/0").unwrap();
        for junk in [
            &b"\xff\xfe"[..],
            b"for=",
            b"for=[",
            b"for=\"[::1",
            b";;,,==",
            b"for=1.2.3.4:99999",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("forwarded", HeaderValue::from_bytes(junk).unwrap());
            headers.insert("x-forwarded-for", HeaderValue::from_bytes(junk).unwrap());
            let _ = proxies.client_ip(ip("10.0.0.1"), &headers);
        }
        let long = vec!["192.0.2.1"; 10_000].join(",");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", long.parse().unwrap());
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &headers), ip("192.0.2.1"));
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
