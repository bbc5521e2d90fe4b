//! Keyed MACs: one MAC per secret, keyed once and cloned per request; the signed content fed in
//! as few pieces as possible; constant-time comparison.

use std::fmt;

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::error::{SecretError, VerifyError};
use crate::secret::require_len;

/// The smallest raw secret accepted for schemes whose secret is chosen by the user (GitHub) or
/// used as text (Stripe): anything shorter is guessable.
pub(crate) const MIN_RAW_SECRET_LEN: usize = 8;

/// One MAC per secret, each keyed once at construction and cloned per request.
#[derive(Clone)]
pub(crate) struct MacKeys<M>(Vec<M>);

/// How many keys, never a key: a scheme holding them can derive `Debug`.
impl<M> fmt::Debug for MacKeys<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacKeys")
            .field("secrets", &self.0.len())
            .finish()
    }
}

impl<M: Mac + KeyInit + Clone> MacKeys<M> {
    /// Keys one MAC per secret; refuses an empty set or a key shorter than `min` bytes.
    pub(crate) fn new<'a>(
        secrets: impl IntoIterator<Item = &'a [u8]>,
        min: usize,
    ) -> Result<Self, SecretError> {
        let keys = secrets
            .into_iter()
            .map(|key| {
                require_len(key, min)?;
                <M as KeyInit>::new_from_slice(key).map_err(|_| SecretError::TooShort {
                    len: key.len(),
                    min,
                })
            })
            .collect::<Result<Vec<M>, _>>()?;
        Ok(Self(keys))
    }

    /// [`new`](Self::new) for key material given as the provider issues it (several for
    /// rotation), refusing an empty list.
    pub(crate) fn from_secrets<I>(secrets: I, min: usize) -> Result<Self, crate::VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        if secrets.is_empty() {
            return Err(SecretError::Empty.into());
        }
        Ok(Self::new(secrets.iter().map(AsRef::as_ref), min)?)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The error for a request none of these keys signed; `signatures` is how many it carried.
    #[inline]
    pub(crate) fn mismatch(&self, signatures: usize) -> VerifyError {
        VerifyError::SignatureMismatch {
            secrets: self.len(),
            signatures,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the MAC of `parts` (fed in order, never concatenated) under any key equals any of
    /// the candidate signatures. Each key's MAC is computed once; comparisons are constant-time.
    pub(crate) fn matches_any<C, I>(&self, parts: &[&[u8]], candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.matches_any_fed(|mac| feed_parts(mac, parts), candidates)
    }

    /// Like [`matches_any`](Self::matches_any), for signed content that `feed` writes into
    /// the MAC piece by piece (decoded form parameters, say).
    pub(crate) fn matches_any_fed<C, I>(&self, feed: impl Fn(&mut M), candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.0.iter().any(|keyed| {
            let mut mac = keyed.clone();
            feed(&mut mac);
            let tag = mac.finalize().into_bytes();
            candidates().any(|candidate| constant_time_eq(&tag, candidate.as_ref()))
        })
    }

    /// Like [`matches_any`](Self::matches_any), answering which key matched (a handshake is
    /// answered with the key that signed it).
    pub(crate) fn matching_key<C, I>(&self, parts: &[&[u8]], candidates: C) -> Option<&M>
    where
        C: Fn() -> I,
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        self.0.iter().find(|keyed| {
            let tag = mac(*keyed, parts);
            candidates().any(|candidate| constant_time_eq(&tag, candidate.as_ref()))
        })
    }

    /// The MAC of what `feed` writes, under the first key (signers hold exactly one).
    pub(crate) fn sign_fed(&self, feed: impl FnOnce(&mut M)) -> Option<Vec<u8>> {
        self.0.first().map(|keyed| {
            let mut mac = keyed.clone();
            feed(&mut mac);
            mac.finalize().into_bytes().to_vec()
        })
    }

    /// The MAC of `parts` under the first key (signers hold exactly one).
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> Option<Vec<u8>> {
        self.sign_fed(|mac| feed_parts(mac, parts))
    }
}

impl MacKeys<hmac::Hmac<sha2::Sha256>> {
    /// Like [`matches_any`](Self::matches_any), for signatures sent as standard base64: each
    /// key's tag is encoded once (about 10 ns) and compared with the text as sent, instead of
    /// decoding every candidate (about 40 ns). A non-canonical encoding of a right tag does not
    /// match, as with the reference implementations, which also compare the text.
    pub(crate) fn matches_any_base64<'a, C, I>(&self, parts: &[&[u8]], candidates: C) -> bool
    where
        C: Fn() -> I,
        I: Iterator<Item = &'a [u8]>,
    {
        use base64::Engine as _;
        self.0.iter().any(|keyed| {
            let tag = mac(keyed, parts);
            let mut text = [0u8; 44];
            let Ok(len) = base64::engine::general_purpose::STANDARD.encode_slice(tag, &mut text)
            else {
                return false;
            };
            candidates().any(|candidate| constant_time_eq(&text[..len], candidate))
        })
    }
}

/// The longest signed prefix (`id.timestamp.` and the like) joined on the stack.
const JOINED_PREFIX: usize = 160;

/// Hands `check` the signed content — `prefix` pieces, then the body — as few slices as it can
/// without copying the body: a prefix that fits [`JOINED_PREFIX`] bytes is joined on the stack,
/// so a MAC or signature stream takes two pieces instead of several (each piece costs an update
/// call; this is measurably cheaper for small bodies). A longer prefix goes piece by piece.
pub(crate) fn with_signed_content<const N: usize, R>(
    prefix: [&[u8]; N],
    body: &[u8],
    check: impl FnOnce(&[&[u8]]) -> R,
) -> R {
    const { assert!(N < 8, "a signed prefix of at most seven pieces") };
    let len: usize = prefix.iter().map(|piece| piece.len()).sum();
    let mut joined = [0u8; JOINED_PREFIX];
    if len <= JOINED_PREFIX {
        let mut at = 0;
        for piece in prefix {
            joined[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        check(&[&joined[..len], body])
    } else {
        let mut pieces: [&[u8]; 8] = [&[]; 8];
        pieces[..N].copy_from_slice(&prefix);
        pieces[N] = body;
        check(&pieces[..=N])
    }
}

#[inline]
fn mac<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> hmac::digest::Output<M> {
    let mut mac = keyed.clone();
    feed_parts(&mut mac, parts);
    mac.finalize().into_bytes()
}

/// Writes `parts` into `mac` in order, never concatenated.
#[inline]
fn feed_parts<M: Mac>(mac: &mut M, parts: &[&[u8]]) {
    for part in parts {
        mac.update(part);
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
///
/// The differences are OR-ed together eight bytes at a time without a branch, and `subtle`
/// makes the one final comparison behind its optimisation barrier. (A `subtle` operation per
/// byte costs about 85 ns for a 32-byte tag here; this costs a few.)
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        u64::from_ne_bytes(bytes)
    };
    let difference = a
        .chunks(8)
        .zip(b.chunks(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    bool::from(difference.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_content_is_the_same_joined_or_in_pieces() {
        let body = b"{\"type\":\"a.b\"}";
        for id_len in [1, 147, 148, 149, 300] {
            let id = vec![b'a'; id_len];
            let (pieces, content) =
                with_signed_content([&id, b".", b"1700000000", b"."], body, |parts| {
                    (parts.len(), parts.concat())
                });
            let expected = [id.as_slice(), b".", b"1700000000", b".", body].concat();
            assert_eq!(content, expected, "id of {id_len} bytes");
            let joined = id_len + 12 <= JOINED_PREFIX;
            assert_eq!(pieces, if joined { 2 } else { 5 }, "id of {id_len} bytes");
        }
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        let a: Vec<u8> = (0..37).collect();
        assert!(constant_time_eq(&a, &a.clone()));
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 0x80;
            assert!(!constant_time_eq(&a, &b), "byte {i}");
        }
        assert!(!constant_time_eq(&a, &a[..36]));
        assert!(constant_time_eq(&[], &[]));
    }
}
