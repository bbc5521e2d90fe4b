//! Group commit: concurrent enqueues share one write to the backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{BoxFuture, Enqueued, Entry, StoreError};

/// One enqueue waiting for its group's write, and where its answer goes.
pub(crate) type Job = (Entry, oneshot::Sender<Result<Enqueued, StoreError>>);

/// Writes a group of jobs and answers each.
pub(crate) type WriteGroup = Arc<dyn Fn(Vec<Job>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The most entries one write takes.
pub(crate) const MAX_GROUP: usize = 256;

/// Enqueues that arrive while earlier ones are being written go into the next write together
/// (up to [`MAX_GROUP`], up to `in_flight` writes at once). A lone enqueue skips the hop and is
/// written by its caller at once, so a quiet receiver pays nothing for this.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    groups: OnceLock<mpsc::UnboundedSender<Job>>,
    enqueuing: AtomicUsize,
}

impl GroupCommit {
    /// Counts this enqueue for as long as the guard lives; the guard says whether it is alone.
    pub(crate) fn enter(&self) -> Counted<'_> {
        let alone = self.enqueuing.fetch_add(1, Ordering::AcqRel) == 0;
        Counted {
            counter: &self.enqueuing,
            alone,
        }
    }

    /// Sends `entry` to the next group write (started on first use with `writer`) and waits
    /// for its answer, which comes after the write.
    pub(crate) async fn submit(
        &self,
        entry: &Entry,
        writer: impl FnOnce() -> WriteGroup,
        in_flight: usize,
    ) -> Result<Enqueued, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.groups
            .get_or_init(|| start(writer(), in_flight))
            .send((entry.clone(), reply))
            .map_err(|_| StoreError::unavailable("the inbox's group commit has stopped"))?;
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::unavailable(
                "the inbox's group commit stopped before answering",
            ))
        })
    }
}

fn start(write: WriteGroup, in_flight: usize) -> mpsc::UnboundedSender<Job> {
    let (send, mut receive) = mpsc::unbounded_channel::<Job>();
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let Some(first) = receive.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match receive.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let write = write.clone();
            tokio::spawn(async move {
                write(group).await;
                drop(permit);
            });
        }
    });
    send
}

/// One enqueue in progress, counted until dropped, even when its future is dropped midway (a
/// client that hung up).
pub(crate) struct Counted<'a> {
    counter: &'a AtomicUsize,
    /// No other enqueue was in progress when this one began.
    pub(crate) alone: bool,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers each job of a group from the keys the write stored: `New` for the first job of each
/// stored key, `Duplicate` for the others.
pub(crate) fn answer(group: Vec<Job>, stored: Result<Vec<String>, StoreError>) {
    match stored {
        Ok(stored) => {
            let mut new: std::collections::HashSet<String> = stored.into_iter().collect();
            for (entry, reply) in group {
                let answer = if new.remove(&entry.key) {
                    Enqueued::New
                } else {
                    Enqueued::Duplicate
                };
                let _ = reply.send(Ok(answer));
            }
        }
        Err(err) => {
            let message = err.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(StoreError::unavailable(message.clone())));
            }
        }
    }
}
