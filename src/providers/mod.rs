//! One module per signing scheme, and the keyed-MAC set they share.

pub(crate) mod github;
pub(crate) mod standard;
pub(crate) mod stripe;

use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::error::SecretError;
use crate::secret::require_len;

/// The smallest raw secret accepted for schemes whose secret is chosen by the user (GitHub) or
/// used as text (Stripe): anything shorter is guessable.
pub(crate) const MIN_RAW_SECRET_LEN: usize = 8;

/// One MAC per secret, each keyed once at construction and cloned per request.
#[derive(Clone)]
pub(crate) struct MacKeys<M>(Vec<M>);

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

    pub(crate) fn len(&self) -> usize {
        self.0.len()
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
        self.0.iter().any(|keyed| {
            let tag = mac(keyed, parts);
            candidates().any(|candidate| bool::from(tag.as_slice().ct_eq(candidate.as_ref())))
        })
    }

    /// The MAC of `parts` under the first key (signers hold exactly one).
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> Option<Vec<u8>> {
        self.0.first().map(|keyed| mac(keyed, parts).to_vec())
    }
}

fn mac<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> hmac::digest::Output<M> {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes()
}

/// Splits `items` on `separator`, then each item at its first `=`/`,` (`pair`), skipping
/// items without one. Borrowed slices only: nothing is copied.
pub(crate) fn pairs(items: &[u8], separator: u8, pair: u8) -> impl Iterator<Item = (&[u8], &[u8])> {
    items
        .split(move |&b| b == separator)
        .map(<[u8]>::trim_ascii)
        .filter_map(move |item| {
            let at = item.iter().position(|&b| b == pair)?;
            Some((&item[..at], &item[at + 1..]))
        })
}

/// Decodes exactly `N` bytes of hex, with no allocation.
pub(crate) fn hex_array<const N: usize>(encoded: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(encoded, &mut out).ok().map(|()| out)
}

impl crate::event::Provider {
    /// Builds this provider's verifier from key material exactly as the provider issues it
    /// (GitHub's secret text, Stripe's `whsec_...`, Standard Webhooks' `whsec_`/`whpk_`), for
    /// apps that pick the provider at run time.
    ///
    /// ```
    /// use verihook::{Provider, VerifyOptions};
    /// let verifier = Provider::Stripe.verifier(["whsec_old", "whsec_new"], VerifyOptions::default())?;
    /// assert_eq!(verifier.provider(), Provider::Stripe);
    /// # Ok::<(), verihook::VerifyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`VerifyError::BadSecret`](crate::VerifyError::BadSecret) as for each verifier's
    /// `with_secrets`.
    pub fn verifier<I>(
        self,
        secrets: I,
        options: crate::VerifyOptions,
    ) -> Result<Box<dyn crate::Verifier>, crate::VerifyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let secrets: Vec<I::Item> = secrets.into_iter().collect();
        let text = secrets.iter().map(|s| s.as_ref().as_bytes());
        Ok(match self {
            Self::Github => {
                Box::new(github::GithubVerifier::with_secrets(text)?.with_options(options))
            }
            Self::Stripe => {
                Box::new(stripe::StripeVerifier::with_secrets(text)?.with_options(options))
            }
            Self::StandardWebhooks => Box::new(
                standard::StandardVerifier::with_secrets(secrets.iter().map(AsRef::as_ref))?
                    .with_options(options),
            ),
        })
    }
}
