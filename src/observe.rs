//! What the crate reports through the `metrics` facade (feature `metrics`); every function is
//! a no-op without it. The names and labels are listed in the guide's "Metrics and tracing"
//! chapter (`docs/observability.md`).

use http::StatusCode;

#[cfg(feature = "metrics")]
#[allow(dead_code)] // each is used only with the feature (guards, inbox) that reports it
mod enabled {
    use std::time::Duration;

    /// Every guard refusal, by sender and code.
    pub(crate) fn guard_rejected(sender: &str, code: &'static str) {
        metrics::counter!(
            "verihook_guard_rejections_total",
            "sender" => sender.to_owned(),
            "code" => code
        )
        .increment(1);
    }

    /// One request's outcome and its whole duration, by sender and outcome code.
    pub(crate) fn request(sender: &str, code: &'static str, elapsed: Duration) {
        let sender = sender.to_owned();
        metrics::counter!("verihook_requests_total", "sender" => sender.clone(), "outcome" => code)
            .increment(1);
        metrics::histogram!(
            "verihook_request_duration_seconds",
            "sender" => sender,
            "outcome" => code
        )
        .record(elapsed.as_secs_f64());
    }

    /// One verification's duration (signature and freshness, not the body read).
    pub(crate) fn verification(sender: &str, elapsed: Duration) {
        metrics::histogram!("verihook_verification_duration_seconds", "sender" => sender.to_owned())
            .record(elapsed.as_secs_f64());
    }

    /// One handler run's duration and result (`ok`, `error`, `panic`, `invalid_payload`...).
    pub(crate) fn handler(sender: &str, result: &'static str, elapsed: Duration) {
        metrics::histogram!(
            "verihook_handler_duration_seconds",
            "sender" => sender.to_owned(),
            "result" => result
        )
        .record(elapsed.as_secs_f64());
    }

    /// An idempotency store call that failed, by operation.
    pub(crate) fn store_error(operation: &'static str) {
        metrics::counter!("verihook_store_errors_total", "operation" => operation).increment(1);
    }

    /// An inbox call that failed, by operation.
    pub(crate) fn inbox_error(operation: &'static str) {
        metrics::counter!("verihook_inbox_errors_total", "operation" => operation).increment(1);
    }

    /// The inbox's pending and dead counts and its oldest pending event's age.
    pub(crate) fn inbox_depth(pending: u64, dead: u64, oldest_pending: Option<Duration>) {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        {
            metrics::gauge!("verihook_inbox_pending").set(pending as f64);
            metrics::gauge!("verihook_inbox_dead").set(dead as f64);
        }
        metrics::gauge!("verihook_inbox_oldest_pending_age_seconds")
            .set(oldest_pending.map_or(0.0, |age| age.as_secs_f64()));
    }
}

#[cfg(feature = "metrics")]
#[allow(unused_imports)]
pub(crate) use enabled::*;

#[cfg(not(feature = "metrics"))]
#[allow(dead_code, clippy::missing_const_for_fn)]
mod disabled {
    use std::time::Duration;

    pub(crate) fn guard_rejected(_: &str, _: &'static str) {}
    pub(crate) fn request(_: &str, _: &'static str, _: Duration) {}
    pub(crate) fn verification(_: &str, _: Duration) {}
    pub(crate) fn handler(_: &str, _: &'static str, _: Duration) {}
    pub(crate) fn store_error(_: &'static str) {}
    pub(crate) fn inbox_error(_: &'static str) {}
    pub(crate) fn inbox_depth(_: u64, _: u64, _: Option<Duration>) {}
}

#[cfg(not(feature = "metrics"))]
#[allow(unused_imports)]
pub(crate) use disabled::*;

/// The most bytes of one log field: an error a handler wrote, a payload error, an event type.
#[cfg(feature = "tracing")]
pub(crate) const MAX_LOG_FIELD: usize = 512;

/// A log field written at most [`MAX_LOG_FIELD`] bytes long (cut on a character boundary and
/// marked with `...`): whatever an event or a handler puts in an error, one log line stays small.
#[cfg(feature = "tracing")]
pub(crate) struct Capped<T>(pub(crate) T);

#[cfg(feature = "tracing")]
impl<T: std::fmt::Display> std::fmt::Display for Capped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// Passes text on until the cap, then drops the rest.
        struct Cap<'a, 'b> {
            out: &'a mut std::fmt::Formatter<'b>,
            left: usize,
            cut: bool,
        }
        impl std::fmt::Write for Cap<'_, '_> {
            fn write_str(&mut self, text: &str) -> std::fmt::Result {
                if self.cut {
                    return Ok(());
                }
                if text.len() <= self.left {
                    self.left -= text.len();
                    return self.out.write_str(text);
                }
                let mut end = self.left;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                self.cut = true;
                self.left = 0;
                self.out.write_str(&text[..end])?;
                self.out.write_str("...")
            }
        }
        let mut cap = Cap {
            out: f,
            left: MAX_LOG_FIELD,
            cut: false,
        };
        std::fmt::write(&mut cap, format_args!("{}", self.0))
    }
}

/// One request's watch: when it started and, with `tracing`, its span (`webhook`, fields
/// `sender`, `event_id`, `outcome`, `status`, `duration_us`; no header, body or secret).
/// Without the `metrics` and `tracing` features it is empty and costs nothing.
pub(crate) struct RequestWatch {
    /// When the request started, read only when something records the duration: the
    /// `metrics` feature, or a subscriber that wants the span (a disabled span records nothing,
    /// so the two clock reads would be wasted on every request).
    #[cfg(any(feature = "metrics", feature = "tracing"))]
    started: Option<std::time::Instant>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl RequestWatch {
    pub(crate) fn start() -> Self {
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            target: "verihook",
            "webhook",
            sender = tracing::field::Empty,
            event_id = tracing::field::Empty,
            outcome = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        #[cfg(feature = "tracing")]
        let timed = cfg!(feature = "metrics") || !span.is_disabled();
        #[cfg(all(feature = "metrics", not(feature = "tracing")))]
        let timed = true;
        Self {
            #[cfg(any(feature = "metrics", feature = "tracing"))]
            started: timed.then(std::time::Instant::now),
            #[cfg(feature = "tracing")]
            span,
        }
    }

    /// Runs `work` inside the span. Not an `async fn`: that would hold `work` in a state
    /// machine of its own beside the instrumented copy, and requests' futures are moved whole.
    pub(crate) fn within<F: std::future::Future>(
        &self,
        work: F,
    ) -> impl std::future::Future<Output = F::Output> {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument as _;
            // A disabled span's clone is empty, and entering it does nothing.
            work.instrument(self.span.clone())
        }
        #[cfg(not(feature = "tracing"))]
        {
            work
        }
    }

    /// Runs `work` (synchronous) inside the span.
    #[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
    pub(crate) fn within_now<T>(&self, work: impl FnOnce() -> T) -> T {
        #[cfg(feature = "tracing")]
        {
            self.span.in_scope(work)
        }
        #[cfg(not(feature = "tracing"))]
        {
            work()
        }
    }

    /// Notes the verified event's sender and id.
    #[allow(clippy::unused_self)]
    pub(crate) fn event(&self, sender: &str, id: Option<&str>) {
        #[cfg(feature = "tracing")]
        if !self.span.is_disabled() {
            self.span.record("sender", sender);
            if let Some(id) = id {
                self.span.record("event_id", id);
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (sender, id);
    }

    /// Records how the request ended (its outcome's code and HTTP status): the request counter
    /// and duration, and the span's fields.
    pub(crate) fn finish(&self, sender: Option<&str>, code: &'static str, status: StatusCode) {
        #[cfg(any(feature = "metrics", feature = "tracing"))]
        if let Some(started) = self.started {
            let elapsed = started.elapsed();
            let sender = sender.unwrap_or("unknown");
            request(sender, code, elapsed);
            #[cfg(feature = "tracing")]
            {
                self.span.record("sender", sender);
                self.span.record("outcome", code);
                self.span.record("status", status.as_u16());
                self.span.record(
                    "duration_us",
                    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                );
            }
            // Only the span records the status.
            #[cfg(not(feature = "tracing"))]
            let _ = status;
        }
        #[cfg(not(any(feature = "metrics", feature = "tracing")))]
        let _ = (sender, code, status);
    }
}

/// Now, when something records durations (`metrics`); else nothing is read.
pub(crate) fn clock() -> Option<std::time::Instant> {
    #[cfg(feature = "metrics")]
    {
        Some(std::time::Instant::now())
    }
    #[cfg(not(feature = "metrics"))]
    {
        None
    }
}

/// Records a verification's duration when `started` was read.
pub(crate) fn verified_since(sender: &str, started: Option<std::time::Instant>) {
    if let Some(started) = started {
        verification(sender, started.elapsed());
    }
}

/// Records a handler run's duration and result when `started` was read.
pub(crate) fn handled_since(
    sender: &str,
    result: &'static str,
    started: Option<std::time::Instant>,
) {
    if let Some(started) = started {
        handler(sender, result, started.elapsed());
    }
}
