//! Keeping a lease while the work under it runs.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// Runs `work`, and calls `beat` every `every` while it runs, when this task runs on a Tokio
/// runtime (the timer needs one; Axum, Actix-web and `#[tokio::main]` all provide it).
/// Elsewhere `work` runs alone. The work is polled first each time, so it finishes without
/// waiting for a beat; a beat in progress delays the work's next poll by one store call.
pub(crate) async fn with_heartbeat<T, B, BeatFuture>(
    work: impl Future<Output = T>,
    every: Duration,
    mut beat: B,
) -> T
where
    B: FnMut() -> BeatFuture,
    BeatFuture: Future<Output = ()>,
{
    let mut work = pin!(work);
    // Most handlers finish at their first poll (or soon after): look before setting a timer.
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await {
        return output;
    }
    if tokio::runtime::Handle::try_current().is_err() {
        return work.await;
    }
    loop {
        let mut sleep = pin!(tokio::time::sleep(every));
        let finished = poll_fn(|cx| {
            if let Poll::Ready(output) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            sleep.as_mut().poll(cx).map(|()| None)
        })
        .await;
        match finished {
            Some(output) => return output,
            None => beat().await,
        }
    }
}

/// How often to extend a lease: every third of it, so that two beats can be late before it
/// ends.
pub(crate) fn beat_interval(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}
