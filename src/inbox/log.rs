//! The inbox as the event log: what a query selects ([`Filter`]), what it finds ([`Stored`]),
//! dead letters grouped by failure ([`Issue`]), how long entries are kept ([`Retention`]), and
//! which fields never reach the store ([`Redaction`]).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

/// Where a stored entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Waiting for a worker (new, replayed, or waiting for a retry).
    Pending,
    /// Held by a worker's lease.
    Leased,
    /// Processed.
    Done,
    /// Settled without running the handler: a newer event of its ordering key had already
    /// been applied (the worker's [stale-event guard](super::WorkerBuilder::stale_guard)).
    Superseded,
    /// Out of attempts or too old: a dead letter.
    Dead,
}

impl Status {
    /// Its name in the CLI and in the stores: `pending`, `leased`, `done`, `superseded`, `dead`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Leased => "leased",
            Self::Done => "done",
            Self::Superseded => "superseded",
            Self::Dead => "dead",
        }
    }

    /// The status called `name`, as [`as_str`](Self::as_str) spells it.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Leased,
            Self::Done,
            Self::Superseded,
            Self::Dead,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }

    /// Whether the entry is settled (done, superseded or dead): what a replay or a purge may
    /// touch. Pending and leased entries are never replayed or purged.
    #[must_use]
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Done | Self::Superseded | Self::Dead)
    }
}

/// The most entries one query finds, replays or purges: a replay of thousands runs in batches
/// of at most this many, so that it never holds the store for long.
pub const MAX_BATCH: usize = 1000;

/// Which stored entries a query selects: every condition given must hold.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use verihook::inbox::{Filter, Status};
///
/// let filter = Filter::new()
///     .sender("stripe")
///     .event_type("invoice.paid")
///     .since(SystemTime::now() - Duration::from_secs(2 * 3600))
///     .status(Status::Dead)
///     .limit(100);
/// assert_eq!(filter.limit, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// Only this sender's entries.
    pub sender: Option<String>,
    /// Only entries of this event type (exactly).
    pub event_type: Option<String>,
    /// Only entries stored at or after this time.
    pub since: Option<SystemTime>,
    /// Only entries stored before this time.
    pub until: Option<SystemTime>,
    /// Only entries in this state.
    pub status: Option<Status>,
    /// Only dead letters of this [`Issue`] (its [`id`](Issue::id)).
    pub issue: Option<String>,
    /// At most this many, oldest stored first (at most [`MAX_BATCH`]).
    pub limit: usize,
}

impl Default for Filter {
    fn default() -> Self {
        Self::new()
    }
}

impl Filter {
    /// Every entry, up to [`MAX_BATCH`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            sender: None,
            event_type: None,
            since: None,
            until: None,
            status: None,
            issue: None,
            limit: MAX_BATCH,
        }
    }

    /// Only `sender`'s entries.
    #[must_use]
    pub fn sender(mut self, sender: impl Into<String>) -> Self {
        self.sender = Some(sender.into());
        self
    }

    /// Only entries of event type `event_type`.
    #[must_use]
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Only entries stored at or after `at`.
    #[must_use]
    pub fn since(mut self, at: SystemTime) -> Self {
        self.since = Some(at);
        self
    }

    /// Only entries stored before `at`.
    #[must_use]
    pub fn until(mut self, at: SystemTime) -> Self {
        self.until = Some(at);
        self
    }

    /// Only entries in state `status`.
    #[must_use]
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    /// Only the dead letters of issue `id`.
    #[must_use]
    pub fn issue(mut self, id: impl Into<String>) -> Self {
        self.issue = Some(id.into());
        self.status = Some(Status::Dead);
        self
    }

    /// At most `limit` entries (at most [`MAX_BATCH`]).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.min(MAX_BATCH);
        self
    }

    /// The limit as a backend applies it: at most [`MAX_BATCH`].
    #[must_use]
    pub fn bounded_limit(&self) -> usize {
        self.limit.min(MAX_BATCH)
    }

    /// Whether an entry with these fields is selected (the memory inbox's query, and the
    /// reference the other backends' queries are tested against).
    #[must_use]
    pub fn matches(&self, stored: &Stored) -> bool {
        self.sender.as_ref().is_none_or(|s| *s == stored.sender)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| Some(t) == stored.event_type.as_ref())
            && self.since.is_none_or(|at| stored.enqueued_at >= at)
            && self.until.is_none_or(|at| stored.enqueued_at < at)
            && self.status.is_none_or(|s| s == stored.status)
            && self
                .issue
                .as_ref()
                .is_none_or(|id| Some(id) == stored.issue.as_ref())
    }
}

/// A stored entry as a query finds it: everything but its body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stored {
    /// Its idempotency key.
    pub key: String,
    /// Its sender.
    pub sender: String,
    /// Its event id.
    pub id: Option<String>,
    /// Its event type.
    pub event_type: Option<String>,
    /// Its ordering key.
    pub ordering_key: Option<String>,
    /// Where it is.
    pub status: Status,
    /// Attempts since it was stored or last replayed.
    pub attempts: u32,
    /// When the receiver stored it.
    #[serde(serialize_with = "unix_seconds")]
    pub enqueued_at: SystemTime,
    /// How many times it was replayed.
    pub replays: u32,
    /// When it was last replayed.
    #[serde(serialize_with = "maybe_unix_seconds")]
    pub replayed_at: Option<SystemTime>,
    /// Why it was last replayed.
    pub replay_reason: Option<String>,
    /// The handler's last error.
    pub last_error: Option<String>,
    /// The issue its failure belongs to, for a dead letter.
    pub issue: Option<String>,
    /// Whether fields were removed from its stored body ([`Redaction`]).
    pub redacted: bool,
}

/// Dead letters that failed the same way: one sender, one route, one error once the numbers,
/// ids and quoted values in its message are masked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Issue {
    /// Its fingerprint, what `inbox retry --issue ID` takes: 16 hex digits.
    pub id: String,
    /// The sender of its dead letters.
    pub sender: String,
    /// Their route key, when they had one.
    pub route: Option<String>,
    /// The error, masked: `order #… not found`.
    pub error: String,
    /// How many dead letters it holds now.
    pub count: u64,
    /// When the first of them died.
    #[serde(serialize_with = "unix_seconds")]
    pub first_seen: SystemTime,
    /// When the last of them died.
    #[serde(serialize_with = "unix_seconds")]
    pub last_seen: SystemTime,
}

fn maybe_unix_seconds<S: serde::Serializer>(
    at: &Option<SystemTime>,
    out: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => unix_seconds(at, out),
        None => out.serialize_none(),
    }
}

fn unix_seconds<S: serde::Serializer>(at: &SystemTime, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_u64(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
    )
}

/// A failure's message with what varies between occurrences masked: runs of digits, hex ids
/// of 8 digits or more, words with a digit in them (`evt_1Nx2`, `cus_9`), and quoted values
/// become `…`, so that one broken handler yields one issue however many events it failed.
///
/// ```
/// use verihook::inbox::masked_error;
/// assert_eq!(masked_error("order 1234 of cus_9Xk not found"), "order … of … not found");
/// assert_eq!(masked_error(r#"column "email" is null"#), "column … is null");
/// ```
#[must_use]
pub fn masked_error(error: &str) -> String {
    let mut out = String::with_capacity(error.len());
    let mut rest = error;
    while let Some(c) = rest.chars().next() {
        if c == '"' || c == '\'' {
            let end = rest[1..].find(c).map_or(rest.len(), |i| i + 2);
            mask(&mut out);
            rest = &rest[end..];
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '-' {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if word.chars().any(|c| c.is_ascii_digit()) {
                mask(&mut out);
            } else {
                out.push_str(word);
            }
            rest = &rest[end..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn mask(out: &mut String) {
    if !out.ends_with('…') {
        out.push('…');
    }
}

/// The id of the issue a dead letter of `sender`, routed by `route`, failing with `error`
/// belongs to: 16 hex digits of a SHA-256 over the three, the error [masked](masked_error).
#[must_use]
pub fn issue_id(sender: &str, route: Option<&str>, error: &str) -> String {
    let mut digest = Sha256::new();
    for part in [sender, route.unwrap_or(""), &masked_error(error)] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let mut id = String::with_capacity(16);
    for byte in &digest.finalize()[..8] {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// Groups `dead` letters into issues, most recent first (what backends without a query of
/// their own answer [`Inbox::issues`](super::Inbox::issues) with).
pub(crate) fn group_issues(
    dead: impl IntoIterator<Item = (Stored, Option<String>, SystemTime)>,
) -> Vec<Issue> {
    let mut issues: Vec<Issue> = Vec::new();
    for (stored, route, died) in dead {
        let error = stored.last_error.as_deref().unwrap_or("");
        let id = stored
            .issue
            .clone()
            .unwrap_or_else(|| issue_id(&stored.sender, route.as_deref(), error));
        count_in(&mut issues, id, stored.sender.clone(), route, error, died);
    }
    issues.sort_by_key(|issue| std::cmp::Reverse(issue.last_seen));
    issues
}

/// Counts one dead letter of issue `id`, which died at `died`, into `issues`.
pub(crate) fn count_in(
    issues: &mut Vec<Issue>,
    id: String,
    sender: String,
    route: Option<String>,
    error: &str,
    died: SystemTime,
) {
    match issues.iter_mut().find(|issue| issue.id == id) {
        Some(issue) => {
            issue.count += 1;
            issue.first_seen = issue.first_seen.min(died);
            issue.last_seen = issue.last_seen.max(died);
        }
        None => issues.push(Issue {
            id,
            sender,
            route,
            error: masked_error(error),
            count: 1,
            first_seen: died,
            last_seen: died,
        }),
    }
}

/// How long settled entries are kept, per sender and event type: what
/// [`WorkerBuilder::retention`](super::WorkerBuilder::retention)'s sweep and `verihook inbox
/// purge` apply. The first rule that names an entry's sender and type wins; entries no rule
/// names are kept for the defaults.
///
/// ```
/// use std::time::Duration;
/// use verihook::inbox::Retention;
///
/// let day = Duration::from_secs(24 * 3600);
/// let retention = Retention::new(7 * day, 30 * day)
///     .sender("stripe", day, 90 * day)                  // payments: short done, long dead
///     .event("github", "push", Duration::from_secs(3600), day);
/// assert_eq!(retention.rules().len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    rules: Vec<RetentionRule>,
}

/// One rule of a [`Retention`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionRule {
    /// The sender it applies to (`None`: every sender).
    pub sender: Option<String>,
    /// The event type it applies to (`None`: every type).
    pub event_type: Option<String>,
    /// How long done and superseded entries are kept. They answer redeliveries `duplicate`
    /// while kept: keep them longer than the provider retries (Stripe: 3 days).
    pub done: Duration,
    /// How long dead letters are kept.
    pub dead: Duration,
}

impl Retention {
    /// Done entries kept for `done`, dead letters for `dead`, for every sender.
    #[must_use]
    pub fn new(done: Duration, dead: Duration) -> Self {
        Self {
            rules: vec![RetentionRule {
                sender: None,
                event_type: None,
                done,
                dead,
            }],
        }
    }

    /// `sender`'s entries kept for `done` and `dead` instead.
    #[must_use]
    pub fn sender(self, sender: impl Into<String>, done: Duration, dead: Duration) -> Self {
        self.rule(Some(sender.into()), None, done, dead)
    }

    /// `sender`'s events of type `event_type` kept for `done` and `dead` instead.
    #[must_use]
    pub fn event(
        self,
        sender: impl Into<String>,
        event_type: impl Into<String>,
        done: Duration,
        dead: Duration,
    ) -> Self {
        self.rule(Some(sender.into()), Some(event_type.into()), done, dead)
    }

    fn rule(
        mut self,
        sender: Option<String>,
        event_type: Option<String>,
        done: Duration,
        dead: Duration,
    ) -> Self {
        // The most specific rules first: a type rule before its sender's, both before the
        // default (which stays last).
        let at = self
            .rules
            .iter()
            .position(|rule| {
                rule.sender.is_none() || (event_type.is_some() && rule.event_type.is_none())
            })
            .unwrap_or(self.rules.len());
        self.rules.insert(
            at,
            RetentionRule {
                sender,
                event_type,
                done,
                dead,
            },
        );
        self
    }

    /// The rules, most specific first.
    #[must_use]
    pub fn rules(&self) -> &[RetentionRule] {
        &self.rules
    }

    /// Applies the policy once: removes every settled entry older than its rule allows, rule
    /// by rule, each in batches of at most [`MAX_BATCH`]. Gives how many were removed.
    ///
    /// A rule for a sender runs before the default, and the default then skips nothing it
    /// covered: an entry a specific rule keeps longer is kept, because purges select by
    /// sender and type and the default excludes what the specific rules name.
    ///
    /// # Errors
    ///
    /// The store's error; what was removed before it stays removed.
    pub async fn apply(&self, inbox: &dyn super::Inbox) -> Result<u64, super::StoreError> {
        let mut removed = 0;
        for (index, rule) in self.rules.iter().enumerate() {
            // Entries named by an earlier (more specific) rule are that rule's to remove.
            let excluded: Vec<(String, Option<String>)> = self.rules[..index]
                .iter()
                .filter_map(|r| Some((r.sender.clone()?, r.event_type.clone())))
                .collect();
            for (status, age) in [
                (Status::Done, rule.done),
                (Status::Superseded, rule.done),
                (Status::Dead, rule.dead),
            ] {
                let mut filter = Filter::new().status(status);
                filter.sender.clone_from(&rule.sender);
                filter.event_type.clone_from(&rule.event_type);
                loop {
                    let batch = inbox.purge(&filter, age, &excluded).await?;
                    removed += batch;
                    if batch < MAX_BATCH as u64 {
                        break;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// Fields removed from an event's body before the inbox stores it: JSON pointers
/// (`/data/object/customer_email`), per sender. The signature was checked on the body as
/// received; the stored copy has each named value replaced by the string `"[redacted]"`, and
/// its entry says it was redacted. Bodies that are not JSON are stored as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    rules: Vec<(String, Vec<String>)>,
}

/// What replaces a redacted value in the stored body.
pub const REDACTED: &str = "[redacted]";

impl Redaction {
    /// Nothing redacted.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes the values at `pointers` (RFC 6901 JSON pointers) from `sender`'s stored
    /// bodies.
    #[must_use]
    pub fn sender<I, P>(mut self, sender: impl Into<String>, pointers: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.rules.push((
            sender.into(),
            pointers.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Whether nothing is redacted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(|(_, pointers)| pointers.is_empty())
    }

    /// `body` of an event from `sender` with the values at its pointers replaced, or `None`
    /// when nothing is to be removed from it (no rule, not JSON, no pointer found).
    #[must_use]
    pub fn apply(&self, sender: &str, body: &[u8]) -> Option<Vec<u8>> {
        let pointers: Vec<&str> = self
            .rules
            .iter()
            .filter(|(name, _)| name == sender)
            .flat_map(|(_, pointers)| pointers.iter().map(String::as_str))
            .collect();
        if pointers.is_empty() {
            return None;
        }
        let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let mut changed = false;
        for pointer in pointers {
            if let Some(found) = value.pointer_mut(pointer) {
                *found = serde_json::Value::String(REDACTED.to_owned());
                changed = true;
            }
        }
        changed.then(|| serde_json::to_vec(&value).ok()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_the_words_and_drops_what_varies() {
        assert_eq!(masked_error("timeout after 30s"), "timeout after …");
        assert_eq!(
            masked_error("order 77 missing; order 78 missing"),
            "order … missing; order … missing"
        );
        assert_eq!(masked_error("unterminated 'quote"), "unterminated …");
        assert_eq!(masked_error(""), "");
        assert_eq!(
            issue_id("stripe", Some("invoice.paid"), "order 1 missing"),
            issue_id("stripe", Some("invoice.paid"), "order 2 missing")
        );
        assert_ne!(
            issue_id("stripe", Some("invoice.paid"), "order 1 missing"),
            issue_id("stripe", Some("invoice.paid"), "database down")
        );
    }

    #[test]
    fn redaction_replaces_named_values_only_in_json() {
        let redaction = Redaction::new().sender("stripe", ["/data/email", "/absent"]);
        let out = redaction
            .apply("stripe", br#"{"id":"evt_1","data":{"email":"a@b.c"}}"#)
            .unwrap();
        let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["data"]["email"], REDACTED);
        assert_eq!(out["id"], "evt_1");
        assert!(redaction
            .apply("github", br#"{"data":{"email":1}}"#)
            .is_none());
        assert!(redaction.apply("stripe", b"not json").is_none());
        assert!(redaction.apply("stripe", br#"{"other":1}"#).is_none());
    }

    #[test]
    fn specific_retention_rules_come_first() {
        let day = Duration::from_secs(86_400);
        let retention = Retention::new(day, day)
            .sender("stripe", day * 2, day * 2)
            .event("stripe", "invoice.paid", day * 3, day * 3);
        let order: Vec<_> = retention
            .rules()
            .iter()
            .map(|r| (r.sender.as_deref(), r.event_type.as_deref()))
            .collect();
        assert_eq!(
            order,
            [
                (Some("stripe"), Some("invoice.paid")),
                (Some("stripe"), None),
                (None, None)
            ]
        );
    }
}
