//! The clock schemes read, the tolerance they apply, and the header helpers they share.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::VerifyError;

/// The default freshness window: a signed timestamp may be at most 5 minutes old or ahead.
/// Schemes whose provider's own SDK applies another window use that one instead (Paddle 5 s,
/// Linear 60 s) unless [`VerifyOptions::tolerance`](VerifyOptions#structfield.tolerance) is set.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Where a verifier reads the current time from.
///
/// [`SystemClock`] is the default; [`FixedClock`] pins the time for tests and replays.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> SystemTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant, for tests and for replaying a captured request.
///
/// ```
/// use verihook::scheme::FixedClock;
/// use verihook::scheme::Clock as _;
/// let clock = FixedClock::at_unix(1_700_000_000);
/// assert_eq!(clock.unix_seconds(), 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(SystemTime);

impl FixedClock {
    /// A clock that always answers `instant`.
    #[must_use]
    pub fn new(instant: SystemTime) -> Self {
        Self(instant)
    }

    /// A clock that always answers `seconds` after the Unix epoch.
    #[must_use]
    pub fn at_unix(seconds: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_secs(seconds))
    }

    /// The instant as whole seconds since the Unix epoch.
    #[must_use]
    pub fn unix_seconds(&self) -> u64 {
        unix_seconds(self.0)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// Options shared by every verifier.
///
/// ```
/// use std::time::Duration;
/// use verihook::{providers::stripe::StripeVerifier, scheme::VerifyOptions};
/// let mut options = VerifyOptions::default();
/// options.tolerance = Some(Duration::from_secs(60));
/// let verifier = StripeVerifier::new("whsec_test_secret")?.with_options(options);
/// # Ok::<(), verihook::VerifyError>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Largest gap allowed between the signed timestamp and now, in either direction.
    /// `None` (the default) applies the scheme's own window: [`DEFAULT_TOLERANCE`] (5 minutes)
    /// for most, the window the provider's SDK applies where it differs (Paddle 5 s, Linear
    /// 60 s). Schemes without a signed timestamp (GitHub) ignore it.
    pub tolerance: Option<Duration>,
    /// Where "now" comes from. Defaults to [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

impl VerifyOptions {
    /// The tolerance set, else the scheme's own `default`.
    pub(crate) fn tolerance_or(&self, default: Duration) -> Duration {
        self.tolerance.unwrap_or(default)
    }
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            tolerance: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A header the scheme reads: its wire name and the spelling shown in errors.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) wire: HeaderName,
    pub(crate) display: &'static str,
}

impl Header {
    pub(crate) const fn new(wire: &'static str, display: &'static str) -> Self {
        Self {
            wire: HeaderName::from_static(wire),
            display,
        }
    }

    pub(crate) fn get<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        headers.get(&self.wire)
    }

    /// The first value of each of `wanted`, in one pass over the headers.
    ///
    /// A request carries a dozen or so headers; comparing each name against the few we want is
    /// cheaper than hashing every wanted name for a map lookup (about 30 ns each).
    pub(crate) fn find_all<'a, const N: usize>(
        headers: &'a HeaderMap,
        wanted: [&Header; N],
    ) -> [Option<&'a HeaderValue>; N] {
        let mut found = [None; N];
        let mut missing = N;
        let wanted = wanted.map(|header| header.wire.as_str().as_bytes());
        for (name, value) in headers {
            let name = name.as_str().as_bytes();
            for (slot, want) in found.iter_mut().zip(wanted) {
                // Lengths and last bytes first: most names differ there, which needs no
                // memcmp call.
                if slot.is_none()
                    && name.len() == want.len()
                    && name.last() == want.last()
                    && name == want
                {
                    *slot = Some(value);
                    missing -= 1;
                }
            }
            if missing == 0 {
                break;
            }
        }
        found
    }

    pub(crate) fn require<'a>(
        &self,
        headers: &'a HeaderMap,
    ) -> Result<&'a HeaderValue, VerifyError> {
        self.get(headers).ok_or_else(|| self.missing())
    }

    pub(crate) fn missing(&self) -> VerifyError {
        VerifyError::MissingHeader { name: self.display }
    }

    pub(crate) fn malformed(&self, reason: &'static str) -> VerifyError {
        VerifyError::MalformedHeader {
            name: self.display,
            reason,
        }
    }

    /// Checks that the value is non-empty visible ASCII, as ids and event types must be.
    ///
    /// A `HeaderValue` already excludes control characters other than tab, so `is_ascii`
    /// (a few ns) proves what `to_str` (a slower byte loop) would.
    pub(crate) fn text<'a>(&self, value: &'a HeaderValue) -> Result<&'a [u8], VerifyError> {
        let bytes = value.as_bytes();
        if bytes.is_empty() {
            Err(self.malformed("value is empty"))
        } else if !bytes.is_ascii() {
            Err(self.malformed("value is not visible ASCII"))
        } else {
            Ok(bytes)
        }
    }
}

/// Parses a Unix timestamp in seconds: ASCII digits only, no sign, no overflow.
pub(crate) fn parse_unix_seconds(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

pub(crate) fn unix_seconds(instant: SystemTime) -> u64 {
    instant
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Checks that `signed` (Unix seconds) lies within `tolerance` of `now`, in either direction.
pub(crate) fn check_freshness(
    signed: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let now = unix_seconds(now);
    let gap = Duration::from_secs(now.abs_diff(signed));
    if gap <= tolerance {
        Ok(())
    } else if signed < now {
        Err(VerifyError::TimestampTooOld {
            age: gap,
            tolerance,
        })
    } else {
        Err(VerifyError::TimestampInFuture {
            ahead: gap,
            tolerance,
        })
    }
}

/// Whether `millis` (Unix milliseconds) is within `tolerance` of `now`, to the millisecond.
pub(crate) fn check_freshness_millis(
    millis: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    // Far beyond any clock (an attacker cannot sign, but a buggy sender can): in the future.
    let Some(signed) = UNIX_EPOCH.checked_add(Duration::from_millis(millis)) else {
        return Err(VerifyError::TimestampInFuture {
            ahead: Duration::MAX,
            tolerance,
        });
    };
    match now.duration_since(signed) {
        Ok(age) if age > tolerance => Err(VerifyError::TimestampTooOld { age, tolerance }),
        Ok(_) => Ok(()),
        Err(ahead) if ahead.duration() > tolerance => Err(VerifyError::TimestampInFuture {
            ahead: ahead.duration(),
            tolerance,
        }),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strict_digits() {
        assert_eq!(parse_unix_seconds(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_unix_seconds(b"0"), Some(0));
        assert_eq!(parse_unix_seconds(b""), None);
        assert_eq!(parse_unix_seconds(b"-1"), None);
        assert_eq!(parse_unix_seconds(b"+1"), None);
        assert_eq!(parse_unix_seconds(b" 1"), None);
        assert_eq!(parse_unix_seconds(b"1.5"), None);
        assert_eq!(parse_unix_seconds(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_unix_seconds(b"18446744073709551616"), None);
        assert_eq!(parse_unix_seconds("١٢".as_bytes()), None);
    }

    #[test]
    fn freshness_boundaries() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let tol = Duration::from_secs(300);
        assert!(check_freshness(700, now, tol).is_ok());
        assert!(check_freshness(1_300, now, tol).is_ok());
        assert_eq!(
            check_freshness(699, now, tol),
            Err(VerifyError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance: tol
            })
        );
        assert_eq!(
            check_freshness(1_301, now, tol),
            Err(VerifyError::TimestampInFuture {
                ahead: Duration::from_secs(301),
                tolerance: tol
            })
        );
    }

    #[test]
    fn freshness_never_overflows() {
        let tol = Duration::from_secs(300);
        assert!(check_freshness(u64::MAX, UNIX_EPOCH, tol).is_err());
        assert!(check_freshness(0, SystemTime::now(), tol).is_err());
        assert!(check_freshness(0, UNIX_EPOCH - Duration::from_secs(5), tol).is_ok());
    }
}
