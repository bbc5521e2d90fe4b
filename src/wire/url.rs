//! The public URL a sender posts to, for schemes that sign it.

use crate::error::VerifyError;

/// The public URL a sender posts to, for schemes that sign it (Twilio, Square).
///
/// Proxies rewrite the scheme and host, so the signed URL is this URL's `scheme://host[:port]`
/// followed by the path and query the request arrived with; when the configured URL has a path
/// other than `/`, the request's path must be that path.
#[derive(Clone, Debug)]
pub(crate) struct PublicUrl {
    /// `scheme://authority` as configured.
    origin: String,
    /// The same origin with the default port added (or removed, if one was given).
    other_port: String,
    /// The configured path, or `None` for "any path".
    path: Option<String>,
}

impl PublicUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, VerifyError> {
        let bad = |reason| VerifyError::BadSecret(crate::error::SecretError::WrongKind { reason });
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|_| bad("the public URL is not a valid absolute URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => return Err(bad("the public URL must start with https:// or http://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| bad("the public URL has no host"))?;
        let origin = format!("{scheme}://{authority}");
        let other_port = match authority.port_u16() {
            Some(_) => format!("{scheme}://{}", authority.host()),
            None => format!("{scheme}://{}:{default_port}", authority.host()),
        };
        let path = Some(uri.path().to_owned()).filter(|p| p != "/" && !p.is_empty());
        Ok(Self {
            origin,
            other_port,
            path,
        })
    }

    /// The signed URL's pieces for `uri` (the request target as received), first as
    /// configured, then with the default port added or removed.
    pub(crate) fn signed<'a>(
        &'a self,
        uri: &'a http::Uri,
    ) -> Result<[[&'a [u8]; 4]; 2], VerifyError> {
        if let Some(path) = &self.path {
            if uri.path() != path {
                return Err(VerifyError::UrlMismatch);
            }
        }
        let (mark, query): (&[u8], &[u8]) = match uri.query() {
            Some(query) => (b"?", query.as_bytes()),
            None => (b"", b""),
        };
        let path = uri.path().as_bytes();
        Ok([
            [self.origin.as_bytes(), path, mark, query],
            [self.other_port.as_bytes(), path, mark, query],
        ])
    }
}
