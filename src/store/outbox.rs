//! The outbox: deliveries as messages to send, per receiver and in order.
//!
//! Each receiver has one chat destination, so a receiver's deliveries form
//! one queue. Exactly one process sends for a receiver at a time: it holds
//! the receiver's lease (`receiver_leases`), renews it while it works, and
//! another process takes over only after it expired. Inside the queue the
//! order is: a pending digest first (it stands for everything folded before
//! it), then top-level cards by id, then thread replies under a sent digest.
//! A message is marked sent only after the platform accepted it, with the
//! platform's reference to the message kept for later edits.

use async_trait::async_trait;
use serde::Serialize;

use super::{StoreError, StoredEvent};

/// What is queued: a card for one delivery, or a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum OutboxKey {
    /// A row of `deliveries`.
    Delivery(i64),
    /// A row of `digests`.
    Digest(i64),
}

impl OutboxKey {
    /// The table the row lives in.
    pub fn table(self) -> &'static str {
        match self {
            Self::Delivery(_) => "deliveries",
            Self::Digest(_) => "digests",
        }
    }

    /// The row id.
    pub fn id(self) -> i64 {
        match self {
            Self::Delivery(id) | Self::Digest(id) => id,
        }
    }
}

/// The next message of a receiver's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Which row.
    pub key: OutboxKey,
    /// The receiver.
    pub receiver: String,
    /// The event, for a card.
    pub event: Option<StoredEvent>,
    /// Tries so far.
    pub attempts: i64,
    /// When the first try was made, Unix milliseconds.
    pub first_attempt_at_ms: Option<i64>,
    /// Not before this time, Unix milliseconds.
    pub next_attempt_at_ms: i64,
    /// For a thread reply: the digest's message reference.
    pub reply_to: Option<String>,
    /// For a digest: how many events it folds.
    pub item_count: i64,
    /// For a card: its case key (the object, or the route's group).
    pub case_key: Option<String>,
    /// For a card: the route that chose it.
    pub route: Option<String>,
}

/// A message that will not be retried any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Which row.
    pub key: OutboxKey,
    /// The receiver.
    pub receiver: String,
    /// The event id (none for a digest).
    pub event_id: Option<String>,
    /// The event type (none for a digest).
    pub event_type: Option<String>,
    /// Tries made.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be sent (cards and thread replies).
    pub pending: u64,
    /// Accepted by the platform.
    pub sent: u64,
    /// Folded into a digest that stands for them.
    pub folded: u64,
    /// Given up on; listed by `dead-letters list`.
    pub dead: u64,
    /// Nothing to send them to (e.g. a topic without subscribers).
    pub skipped: u64,
    /// Digests sent.
    pub digests_sent: u64,
    /// Digests waiting.
    pub digests_pending: u64,
}

/// The outbox operations of a store.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Whether one receiver has a pending delivery or digest due by `now_ms`
    /// (cheap: it stops at the first one, along the receiver's index).
    async fn is_due(&self, receiver: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Receivers whose queue has something due at `now_ms`.
    async fn due_receivers(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Takes or renews the lease on a receiver's queue until `until_ms`;
    /// false when another owner holds a lease that has not expired.
    async fn lease_receiver(
        &self,
        receiver: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Gives up a lease this owner holds.
    async fn release_receiver(&self, receiver: &str, owner: &str) -> Result<(), StoreError>;

    /// The head of a receiver's queue at `now_ms`. A card that a group's
    /// wait holds back (not tried yet, not due) does not block the cards
    /// behind it; one being retried does, to keep the order.
    async fn next_in_queue(
        &self,
        receiver: &str,
        now_ms: i64,
    ) -> Result<Option<OutboxItem>, StoreError>;

    /// The other pending top-level cards of a case on a receiver (not
    /// `except`), oldest first: they are merged into one edit of its card.
    async fn pending_of_case(
        &self,
        receiver: &str,
        case_key: &str,
        except: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// How far a listed digest got: messages sent, and the last delivery listed.
    async fn digest_progress(&self, digest_id: i64) -> Result<(i64, i64), StoreError>;

    /// Records how far a listed digest got.
    async fn set_digest_progress(
        &self,
        digest_id: i64,
        pages_sent: i64,
        listed_after: i64,
    ) -> Result<(), StoreError>;

    /// Holds a card back until `until_ms` without counting a try (a group's interval).
    async fn defer(&self, key: OutboxKey, until_ms: i64) -> Result<(), StoreError>;

    /// How many top-level cards wait in a receiver's queue.
    async fn backlog(&self, receiver: &str) -> Result<u64, StoreError>;

    /// Folds every waiting top-level card of a receiver into a new digest;
    /// returns its id and size, or `None` when nothing waited.
    async fn fold(&self, receiver: &str, now_ms: i64) -> Result<Option<(i64, u64)>, StoreError>;

    /// A page of the events a digest folds, in order: at most `limit` of
    /// them after delivery `after` (0 for the first page), each with its
    /// delivery id. Paged, so that a digest of any size is read in bounded memory.
    async fn digest_events(
        &self,
        digest_id: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, StoredEvent)>, StoreError>;

    /// Records a message the platform accepted. For a digest whose folded
    /// cards go into its thread (`thread_replies`), they become pending replies.
    async fn mark_sent(
        &self,
        key: OutboxKey,
        message_ref: &str,
        now_ms: i64,
        thread_replies: bool,
    ) -> Result<(), StoreError>;

    /// Records a failed try and when to try again.
    async fn mark_retry(
        &self,
        key: OutboxKey,
        attempts: i64,
        first_attempt_at_ms: i64,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Gives up on a message: it becomes a dead letter (`status = 'dead'`),
    /// or `skipped` when there was nothing to send it to.
    async fn mark_final(
        &self,
        key: OutboxKey,
        status: &str,
        attempts: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Dead letters, oldest first.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, StoreError>;

    /// Queues dead letters again with fresh tries (all of them when `keys` is empty); returns how many.
    async fn replay_dead(&self, keys: &[OutboxKey]) -> Result<u64, StoreError>;

    /// Forgets an event's deliveries and marks it unrouted, so that the
    /// pipeline routes and sends it again; false when there is no such event.
    async fn reroute_event(&self, seq: i64) -> Result<bool, StoreError>;

    /// Counts by state.
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;

    /// Message references of an event's sent deliveries, by receiver.
    async fn message_refs(&self, event_seq: i64) -> Result<Vec<(String, String)>, StoreError>;
}

/// Implements [`Outbox`] for a backend with a sqlx pool in `pool`; the SQL
/// is shared by both backends, like [`super::impl_store`].
macro_rules! impl_outbox {
    ($store:ty) => {
        #[async_trait]
        impl $crate::store::outbox::Outbox for $store {
            async fn is_due(&self, receiver: &str, now_ms: i64) -> Result<bool, StoreError> {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM deliveries WHERE receiver = $1 AND status = 'pending' AND next_attempt_at_ms <= $2)
                         OR EXISTS (SELECT 1 FROM digests WHERE receiver = $1 AND status = 'pending' AND next_attempt_at_ms <= $2)",
                )
                .bind(receiver)
                .bind(now_ms)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("checking a receiver's queue"))
            }

            async fn due_receivers(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar(
                    "SELECT receiver FROM deliveries WHERE status = 'pending' GROUP BY receiver HAVING MIN(next_attempt_at_ms) <= $1
                     UNION
                     SELECT receiver FROM digests WHERE status = 'pending' AND next_attempt_at_ms <= $1",
                )
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing due receivers"))
            }

            async fn lease_receiver(
                &self,
                receiver: &str,
                owner: &str,
                now_ms: i64,
                until_ms: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO receiver_leases (receiver, owner, expires_at_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (receiver) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
                     WHERE receiver_leases.owner = excluded.owner OR receiver_leases.expires_at_ms < $4",
                )
                .bind(receiver)
                .bind(owner)
                .bind(until_ms)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("leasing a receiver's queue"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_receiver(&self, receiver: &str, owner: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM receiver_leases WHERE receiver = $1 AND owner = $2")
                    .bind(receiver)
                    .bind(owner)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("releasing a receiver's queue"))?;
                Ok(())
            }

            async fn next_in_queue(&self, receiver: &str, now_ms: i64) -> Result<Option<OutboxItem>, StoreError> {
                use sqlx::Row;
                let map = StoreError::db("reading a receiver's queue");
                let digest = sqlx::query(
                    "SELECT id, attempts, first_attempt_at_ms, next_attempt_at_ms, item_count FROM digests
                     WHERE receiver = $1 AND status = 'pending' ORDER BY id LIMIT 1",
                )
                .bind(receiver)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a receiver's queue"))?;
                if let Some(row) = digest {
                    return (|| {
                        Ok(Some(OutboxItem {
                            key: OutboxKey::Digest(row.try_get("id")?),
                            receiver: receiver.to_owned(),
                            event: None,
                            attempts: row.try_get("attempts")?,
                            first_attempt_at_ms: row.try_get("first_attempt_at_ms")?,
                            next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
                            reply_to: None,
                            item_count: row.try_get("item_count")?,
                            case_key: None,
                            route: None,
                        }))
                    })()
                    .map_err(map);
                }
                let columns = $crate::store::event_columns_of("e");
                for (condition, join) in [
                    ("d.digest_id IS NULL AND (d.first_attempt_at_ms IS NOT NULL OR d.next_attempt_at_ms <= $2)", ""),
                    ("d.digest_id IS NOT NULL", "JOIN digests g ON g.id = d.digest_id"),
                ] {
                    let reply_ref = if join.is_empty() { "NULL" } else { "g.message_ref" };
                    let row = sqlx::query(&format!(
                        "SELECT d.id AS delivery_id, d.attempts, d.first_attempt_at_ms, d.next_attempt_at_ms,
                                d.case_key, d.route, {reply_ref} AS reply_to, {columns}
                         FROM deliveries d {join} JOIN events e ON e.seq = d.event_seq
                         WHERE d.receiver = $1 AND d.status = 'pending' AND {condition} AND $2 = $2
                         ORDER BY d.id LIMIT 1"
                    ))
                    .bind(receiver)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::db("reading a receiver's queue"))?;
                    if let Some(row) = row {
                        return (|| {
                            Ok(Some(OutboxItem {
                                key: OutboxKey::Delivery(row.try_get("delivery_id")?),
                                receiver: receiver.to_owned(),
                                event: Some(StoredEvent::from_row(&row)?),
                                attempts: row.try_get("attempts")?,
                                first_attempt_at_ms: row.try_get("first_attempt_at_ms")?,
                                next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
                                reply_to: row.try_get("reply_to")?,
                                item_count: 1,
                                case_key: row.try_get("case_key")?,
                                route: row.try_get("route")?,
                            }))
                        })()
                        .map_err(StoreError::db("reading a receiver's queue"));
                    }
                }
                Ok(None)
            }

            async fn pending_of_case(
                &self,
                receiver: &str,
                case_key: &str,
                except: i64,
                limit: u32,
            ) -> Result<Vec<OutboxItem>, StoreError> {
                use sqlx::Row;
                let columns = $crate::store::event_columns_of("e");
                let rows = sqlx::query(&format!(
                    "SELECT d.id AS delivery_id, d.attempts, d.first_attempt_at_ms, d.next_attempt_at_ms,
                            d.case_key, d.route, {columns}
                     FROM deliveries d JOIN events e ON e.seq = d.event_seq
                     WHERE d.receiver = $1 AND d.case_key = $2 AND d.status = 'pending'
                       AND d.digest_id IS NULL AND d.id <> $3
                     ORDER BY d.id LIMIT $4"
                ))
                .bind(receiver)
                .bind(case_key)
                .bind(except)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a case's queue"))?;
                rows.iter()
                    .map(|row| {
                        Ok(OutboxItem {
                            key: OutboxKey::Delivery(row.try_get("delivery_id")?),
                            receiver: receiver.to_owned(),
                            event: Some(StoredEvent::from_row(row)?),
                            attempts: row.try_get("attempts")?,
                            first_attempt_at_ms: row.try_get("first_attempt_at_ms")?,
                            next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
                            reply_to: None,
                            item_count: 1,
                            case_key: row.try_get("case_key")?,
                            route: row.try_get("route")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading a case's queue"))
            }

            async fn digest_progress(&self, digest_id: i64) -> Result<(i64, i64), StoreError> {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT pages_sent, listed_after FROM digests WHERE id = $1",
                )
                .bind(digest_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a digest's progress"))?;
                Ok(row.unwrap_or((0, 0)))
            }

            async fn set_digest_progress(
                &self,
                digest_id: i64,
                pages_sent: i64,
                listed_after: i64,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE digests SET pages_sent = $1, listed_after = $2 WHERE id = $3")
                    .bind(pages_sent)
                    .bind(listed_after)
                    .bind(digest_id)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("recording a digest's progress"))?;
                Ok(())
            }

            async fn defer(&self, key: OutboxKey, until_ms: i64) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "UPDATE {} SET next_attempt_at_ms = $1 WHERE id = $2",
                    key.table()
                ))
                .bind(until_ms)
                .bind(key.id())
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("holding a card back"))?;
                Ok(())
            }

            async fn backlog(&self, receiver: &str) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM deliveries WHERE receiver = $1 AND status = 'pending' AND digest_id IS NULL",
                )
                .bind(receiver)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("counting a receiver's backlog"))?;
                Ok(count.try_into().unwrap_or(0))
            }

            async fn fold(&self, receiver: &str, now_ms: i64) -> Result<Option<(i64, u64)>, StoreError> {
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    let digest_id: i64 = sqlx::query_scalar(
                        "INSERT INTO digests (receiver, item_count, created_at_ms) VALUES ($1, 0, $2) RETURNING id",
                    )
                    .bind(receiver)
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    let folded = sqlx::query(
                        "UPDATE deliveries SET status = 'folded', digest_id = $1
                         WHERE receiver = $2 AND status = 'pending' AND digest_id IS NULL",
                    )
                    .bind(digest_id)
                    .bind(receiver)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if folded == 0 {
                        // Nothing to fold after all: no empty digest is left behind.
                        sqlx::query("DELETE FROM digests WHERE id = $1")
                            .bind(digest_id)
                            .execute(&mut *tx)
                            .await?;
                        return Ok(None);
                    }
                    sqlx::query("UPDATE digests SET item_count = $1 WHERE id = $2")
                        .bind(folded as i64)
                        .bind(digest_id)
                        .execute(&mut *tx)
                        .await?;
                    Ok(Some((digest_id, folded)))
                })
                .await
                .map_err(StoreError::db("folding a backlog into a digest"))
            }

            async fn digest_events(
                &self,
                digest_id: i64,
                after: i64,
                limit: u32,
            ) -> Result<Vec<(i64, StoredEvent)>, StoreError> {
                use sqlx::Row;
                let columns = $crate::store::event_columns_of("e");
                let rows = sqlx::query(&format!(
                    "SELECT d.id AS delivery_id, {columns} FROM deliveries d JOIN events e ON e.seq = d.event_seq
                     WHERE d.digest_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
                ))
                .bind(digest_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a digest's events"))?;
                rows.iter()
                    .map(|row| Ok((row.try_get("delivery_id")?, StoredEvent::from_row(row)?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading a digest's events"))
            }

            async fn mark_sent(
                &self,
                key: OutboxKey,
                message_ref: &str,
                now_ms: i64,
                thread_replies: bool,
            ) -> Result<(), StoreError> {
                // Through the one writer: batched with every write waiting,
                // sharing its flush, and never contending for SQLite's write lock.
                self.writer
                    .mark_sent($crate::store::group_commit::Sent {
                        key,
                        message_ref: message_ref.to_owned(),
                        at_ms: now_ms,
                        thread_replies,
                    })
                    .await
            }

            async fn mark_retry(
                &self,
                key: OutboxKey,
                attempts: i64,
                first_attempt_at_ms: i64,
                next_attempt_at_ms: i64,
                error: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "UPDATE {} SET attempts = $1, first_attempt_at_ms = $2, next_attempt_at_ms = $3, last_error = $4 WHERE id = $5",
                    key.table()
                ))
                .bind(attempts)
                .bind(first_attempt_at_ms)
                .bind(next_attempt_at_ms)
                .bind(error)
                .bind(key.id())
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a failed try"))?;
                Ok(())
            }

            async fn mark_final(
                &self,
                key: OutboxKey,
                status: &str,
                attempts: i64,
                error: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(&format!(
                    "UPDATE {} SET status = $1, attempts = $2, last_error = $3 WHERE id = $4",
                    key.table()
                ))
                .bind(status)
                .bind(attempts)
                .bind(error)
                .bind(key.id())
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a dead letter"))?;
                Ok(())
            }

            async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT 'delivery' AS kind, d.id, d.receiver, e.event_id, e.event_type, d.attempts, d.last_error
                       FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.status = 'dead'
                     UNION ALL
                     SELECT 'digest' AS kind, g.id, g.receiver, NULL, NULL, g.attempts, g.last_error
                       FROM digests g WHERE g.status = 'dead'
                     ORDER BY 2 LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing dead letters"))?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        let id: i64 = row.try_get("id")?;
                        Ok(DeadLetter {
                            key: if kind == "digest" { OutboxKey::Digest(id) } else { OutboxKey::Delivery(id) },
                            receiver: row.try_get("receiver")?,
                            event_id: row.try_get("event_id")?,
                            event_type: row.try_get("event_type")?,
                            attempts: row.try_get("attempts")?,
                            last_error: row.try_get("last_error")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading dead letters"))
            }

            async fn replay_dead(&self, keys: &[OutboxKey]) -> Result<u64, StoreError> {
                let map = || StoreError::db("queueing dead letters again");
                const RESET: &str = "SET status = 'pending', attempts = 0, first_attempt_at_ms = NULL, next_attempt_at_ms = 0";
                let mut replayed = 0;
                if keys.is_empty() {
                    for table in ["deliveries", "digests"] {
                        replayed += sqlx::query(&format!("UPDATE {table} {RESET} WHERE status = 'dead'"))
                            .execute(&self.pool)
                            .await
                            .map_err(map())?
                            .rows_affected();
                    }
                }
                for key in keys {
                    replayed += sqlx::query(&format!(
                        "UPDATE {} {RESET} WHERE status = 'dead' AND id = $1",
                        key.table()
                    ))
                    .bind(key.id())
                    .execute(&self.pool)
                    .await
                    .map_err(map())?
                    .rows_affected();
                }
                Ok(replayed)
            }

            async fn reroute_event(&self, seq: i64) -> Result<bool, StoreError> {
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    let found = sqlx::query("UPDATE events SET routed_at_ms = NULL WHERE seq = $1")
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query("DELETE FROM deliveries WHERE event_seq = $1")
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    Ok(found == 1)
                })
                .await
                .map_err(StoreError::db("queueing an event again"))
            }

            async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT 'deliveries', status, COUNT(*) FROM deliveries GROUP BY status
                     UNION ALL
                     SELECT 'digests', status, COUNT(*) FROM digests GROUP BY status",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("counting the outbox"))?;
                let mut counts = OutboxCounts::default();
                for (table, status, count) in rows {
                    let count = count.try_into().unwrap_or(0);
                    match (table.as_str(), status.as_str()) {
                        ("deliveries", "pending") => counts.pending += count,
                        ("deliveries", "sent") => counts.sent += count,
                        ("deliveries", "folded") => counts.folded += count,
                        ("deliveries", "dead") => counts.dead += count,
                        ("deliveries", "skipped") => counts.skipped += count,
                        ("digests", "sent") => counts.digests_sent += count,
                        ("digests", "pending") => counts.digests_pending += count,
                        ("digests", "dead") => counts.dead += count,
                        _ => {}
                    }
                }
                Ok(counts)
            }

            async fn message_refs(&self, event_seq: i64) -> Result<Vec<(String, String)>, StoreError> {
                sqlx::query_as(
                    "SELECT receiver, message_ref FROM deliveries
                     WHERE event_seq = $1 AND message_ref IS NOT NULL ORDER BY id",
                )
                .bind(event_seq)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading message references"))
            }
        }
    };
}

pub(crate) use impl_outbox;
