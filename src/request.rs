//! The framework-agnostic view of one webhook request: method, URL, headers, raw body.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

/// What a scheme may look at before the body is read: the method, the URL as received (path and
/// query; proxies usually rewrite the scheme and host) and the headers.
///
/// ```
/// use verihook::RequestHead;
/// let headers = http::HeaderMap::new();
/// let uri: http::Uri = "/webhooks/twilio?bodySHA256=abc".parse().unwrap();
/// let head = RequestHead::new(&http::Method::POST, &uri, &headers);
/// assert_eq!(head.uri().query(), Some("bodySHA256=abc"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

static ROOT: LazyLock<Uri> = LazyLock::new(|| Uri::from_static("/"));

impl<'a> RequestHead<'a> {
    /// A request head from its parts.
    #[must_use]
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
        }
    }

    /// A `POST /` with `headers`: enough for every scheme that signs no URL.
    #[must_use]
    pub fn post(headers: &'a HeaderMap) -> Self {
        Self::new(&Method::POST, &ROOT, headers)
    }

    /// The request method.
    #[must_use]
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request target as received: usually only the path and query.
    #[must_use]
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request headers.
    #[must_use]
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}

/// One whole webhook request: its [`RequestHead`] and the raw body exactly as received.
///
/// ```
/// use verihook::WebhookRequest;
/// let request = http::Request::post("/hook").body(bytes::Bytes::from_static(b"{}")).unwrap();
/// let view = WebhookRequest::from_http(&request);
/// assert_eq!(view.body().as_ref(), b"{}");
/// assert_eq!(view.head().uri().path(), "/hook");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    head: RequestHead<'a>,
    body: &'a Bytes,
}

impl<'a> WebhookRequest<'a> {
    /// A request from its head and raw body.
    #[must_use]
    pub fn new(head: RequestHead<'a>, body: &'a Bytes) -> Self {
        Self { head, body }
    }

    /// A view of an `http::Request` whose body has been read.
    #[must_use]
    pub fn from_http(request: &'a http::Request<Bytes>) -> Self {
        Self::new(
            RequestHead::new(request.method(), request.uri(), request.headers()),
            request.body(),
        )
    }

    /// The method, URL and headers.
    #[must_use]
    pub fn head(&self) -> RequestHead<'a> {
        self.head
    }

    /// The headers.
    #[must_use]
    pub fn headers(&self) -> &'a HeaderMap {
        self.head.headers
    }

    /// The raw body, exactly as received.
    #[must_use]
    pub fn body(&self) -> &'a Bytes {
        self.body
    }
}
