//! Byte-level helpers the providers share: keyed MACs, signature headers, signed URLs, JSON
//! members. They name no provider.

pub(crate) mod header;
pub(crate) mod json;
pub(crate) mod mac;
pub(crate) mod url;
