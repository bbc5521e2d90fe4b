//! Reading signature headers: `key=value` lists, hex, the `v0=` format, and the unsigned
//! headers a scheme reports.

use http::HeaderMap;

use crate::error::VerifyError;
use crate::scheme::verifier::Check;

/// Slack's and Zoom's headers: `v0=<64 hex digits>` in the first, Unix seconds in the second;
/// the timestamp's digits and value and the signature, once the timestamp is fresh.
pub(crate) fn v0_signed<'a>(
    headers: &'a HeaderMap,
    [signature_header, timestamp_header]: [&crate::verify::Header; 2],
    at: &Check<'_>,
) -> Result<(&'a [u8], u64, [u8; 32]), VerifyError> {
    let [signature, timestamp] =
        crate::verify::Header::find_all(headers, [signature_header, timestamp_header]);
    let signature = signature.ok_or_else(|| signature_header.missing())?;
    let digits = timestamp
        .ok_or_else(|| timestamp_header.missing())?
        .as_bytes();
    let seconds = crate::verify::parse_unix_seconds(digits)
        .ok_or_else(|| timestamp_header.malformed("not a Unix time in seconds"))?;
    let signature = signature
        .as_bytes()
        .strip_prefix(b"v0=")
        .and_then(hex_array)
        .ok_or_else(|| signature_header.malformed("expected v0= and 64 hex digits"))?;
    at.fresh(seconds)?;
    Ok((digits, seconds, signature))
}

/// An unsigned header the scheme reports (an id, a type): absent, or visible text that is kept as
/// it is; an empty or non-text value is malformed.
#[inline]
pub(crate) fn reported(
    header: &crate::verify::Header,
    value: Option<&http::HeaderValue>,
) -> Result<crate::event::Field, VerifyError> {
    match value {
        Some(value) => header
            .text(value)
            .map(|_| crate::event::Field::Header(value.clone())),
        None => Ok(crate::event::Field::Absent),
    }
}

/// Splits `items` on `separator`, then each item at its first `pair` byte (`=` or `,`),
/// skipping items without one. Borrowed slices only: nothing is copied. The separator is found
/// with `memchr` (a whole Stripe header costs a few ns, a byte-at-a-time split ten times more).
pub(crate) fn pairs(items: &[u8], separator: u8, pair: u8) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = Some(items);
    std::iter::from_fn(move || {
        let current = rest?;
        let (item, next) = match memchr::memchr(separator, current) {
            Some(at) => (&current[..at], Some(&current[at + 1..])),
            None => (current, None),
        };
        rest = next;
        Some(item)
    })
    .filter_map(move |item| {
        let item = item.trim_ascii();
        let at = item.iter().position(|&b| b == pair)?;
        Some((&item[..at], &item[at + 1..]))
    })
}

/// Decodes exactly `N` bytes of hex, with no allocation.
pub(crate) fn hex_array<const N: usize>(encoded: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    const_hex::decode_to_slice(encoded, &mut out)
        .ok()
        .map(|()| out)
}

/// The most signature entries one header may carry (Stripe's `v1=` list, Standard Webhooks'
/// space-separated list). Providers send one per active secret; more is refused as
/// `malformed_header` before any signature work, so one request cannot make us verify
/// thousands.
pub const MAX_SIGNATURES: usize = 8;

/// A header that lists a timestamp and one or more signatures as `key=value` entries
/// (`Stripe-Signature: t=..,v1=..,v1=..`, `Paddle-Signature: ts=..;h1=..`).
pub(crate) struct SignatureList {
    pub(crate) header: &'static crate::verify::Header,
    /// Between entries: `,` or `;`.
    pub(crate) separator: u8,
    /// The timestamp's key (`t`, `ts`): Unix seconds, exactly once.
    pub(crate) timestamp: &'static [u8],
    /// The signatures' key (`v1`, `h1`), hex; other keys are ignored.
    pub(crate) signature: &'static [u8],
}

/// A parsed [`SignatureList`]: the timestamp (its digits as sent, which are signed) and the
/// signature entries, read again when compared rather than copied.
pub(crate) struct ListedSignatures<'a> {
    pub(crate) timestamp: u64,
    pub(crate) digits: &'a [u8],
    pub(crate) count: usize,
    raw: &'a [u8],
    list: &'static SignatureList,
}

impl SignatureList {
    /// The header's entries; at most [`MAX_SIGNATURES`], one timestamp, at least one signature.
    /// Always inlined: it is on the hot path of every listed scheme (Stripe, Paddle), and a
    /// plain hint is lost when the crate's code moves between codegen units.
    #[inline(always)]
    pub(crate) fn parse<'a>(
        &'static self,
        headers: &'a HeaderMap,
    ) -> Result<ListedSignatures<'a>, VerifyError> {
        let raw = self.header.require(headers)?.as_bytes();
        let mut timestamp = None;
        let mut count = 0;
        let mut entries = 0;
        for (key, value) in pairs(raw, self.separator, b'=') {
            entries += 1;
            if key == self.timestamp {
                if timestamp.is_some() {
                    return Err(self.header.malformed("more than one timestamp"));
                }
                let seconds = crate::verify::parse_unix_seconds(value)
                    .ok_or_else(|| self.header.malformed("the timestamp is not Unix seconds"))?;
                timestamp = Some((seconds, value));
            } else if key == self.signature {
                count += 1;
            }
        }
        cap_entries(entries, self.header)?;
        let (timestamp, digits) =
            timestamp.ok_or_else(|| self.header.malformed("no timestamp entry"))?;
        if count == 0 {
            return Err(self.header.malformed("no signature entry"));
        }
        Ok(ListedSignatures {
            timestamp,
            digits,
            count,
            raw,
            list: self,
        })
    }
}

impl<'a> ListedSignatures<'a> {
    /// The signatures that decode to `N` bytes of hex; the others can never match.
    pub(crate) fn signatures<const N: usize>(&self) -> impl Iterator<Item = [u8; N]> + 'a {
        let key = self.list.signature;
        pairs(self.raw, self.list.separator, b'=')
            .filter(move |(k, _)| *k == key)
            .filter_map(|(_, value)| hex_array(value))
    }
}

/// Refuses a signature list of more than [`MAX_SIGNATURES`] entries.
pub(crate) fn cap_entries(count: usize, header: &crate::verify::Header) -> Result<(), VerifyError> {
    if count > MAX_SIGNATURES {
        Err(header.malformed("more than 8 signature entries"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_and_skip() {
        let got: Vec<_> = pairs(b"t=1, v1=ab,,junk,v0=c=d,", b',', b'=').collect();
        let want: Vec<(&[u8], &[u8])> = vec![(b"t", b"1"), (b"v1", b"ab"), (b"v0", b"c=d")];
        assert_eq!(got, want);
        assert_eq!(pairs(b"", b',', b'=').count(), 0);
    }

    #[test]
    fn hex_array_needs_exact_length() {
        assert_eq!(hex_array::<2>(b"0aFF"), Some([0x0a, 0xff]));
        assert_eq!(hex_array::<2>(b"0aF"), None);
        assert_eq!(hex_array::<2>(b"0aFFaa"), None);
        assert_eq!(hex_array::<2>(b"0g00"), None);
    }
}
