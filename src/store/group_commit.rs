//! Group commit: many concurrent inserts, one transaction, one durable flush.
//!
//! A durable commit costs a disk flush. Paying one per webhook would cap
//! ingest at the disk's flush rate, so the hot writes of a process (webhook
//! inserts, the pipeline's routing batches, the marks of sent messages) go
//! through one writer task, and never wait on each other's locks. For inserts, it takes every
//! insert waiting in its queue (up to [`MAX_BATCH`]), writes them in one
//! transaction, commits once, and only then answers each waiting request. A request is therefore acknowledged only
//! after its own row is committed, and a busy server shares one flush between
//! many events. The backends supply the transaction ([`BatchInsert`], with
//! the SQL of `batch_sql`); the queueing and the answers live here, once.
//!
//! A failed write never leaves its connection behind: after a failed COMMIT
//! (a full disk answers `SQLITE_FULL`) the driver's idea of the open
//! transaction and the database's can differ, and a connection that still
//! "holds" a transaction would turn every later BEGIN into a SAVEPOINT and
//! every later COMMIT into a RELEASE that commits nothing — while each batch
//! was answered as stored. So a [`Writer`] begins every transaction with an
//! explicit BEGIN (which the driver refuses inside another transaction),
//! checks after COMMIT that no transaction is left open, and is reset (its
//! connection closed, a new one opened for the next write) after any
//! failure. [`WriterHealth`] remembers the failure, so that `/readyz` probes
//! with a real write until the store can commit again.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

pub(crate) use super::batch_sql::impl_batch_insert;
pub use super::batch_sql::{
    DELIVERY_CHUNK, aliases_statement, case_events_statement, chunks, deliveries_statement,
    insert_statement, known_aliases_statement, mark_routed_statement,
};
pub use super::writer::{Writer, WriterHealth};

use super::{Inserted, NewEvent, Routed, StoreError};

/// The size of a probe write: a large Stripe event (invoices with many lines).
pub const PROBE_BYTES: usize = 16 * 1024;

/// Most inserts committed together.
pub const MAX_BATCH: usize = 512;

/// How many inserts may wait for the writer before callers wait to enqueue.
const QUEUE_DEPTH: usize = 8192;

/// Row counts of the multi-row INSERT statements. A batch is split into
/// chunks of these sizes (largest first), so only five distinct statements
/// exist and each stays prepared in the driver's statement cache, and one
/// statement stays well under SQLite's 32,766 bound parameters (9 per row).
pub const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// The (account, event id) of a row, and its sequence number once inserted.
pub type InsertedRows = HashMap<(String, String), i64>;

/// One backend's way of writing a batch in one transaction.
#[async_trait]
pub trait BatchInsert: Send + 'static {
    /// Inserts `events` in one committed transaction, skipping those already
    /// stored, and returns the sequence numbers of the rows it inserted.
    async fn insert_batch(&mut self, events: &[NewEvent]) -> Result<InsertedRows, sqlx::Error>;

    /// Records the routing of a batch of events in one committed transaction
    /// (see [`super::Store::record_routing`]).
    async fn record_routing(
        &mut self,
        routed: &[Routed],
        routed_at_ms: i64,
    ) -> Result<(), sqlx::Error>;

    /// Records sent messages in one committed transaction (see
    /// [`super::Outbox::mark_sent`]); a digest's folded cards become pending
    /// thread replies where `thread_replies` says so.
    async fn mark_sent(&mut self, sent: &[Sent]) -> Result<(), sqlx::Error>;

    /// Commits one tiny write (the `writer_health` row): proof that the store can commit.
    async fn probe(&mut self, at_ms: i64) -> Result<(), sqlx::Error>;

    /// Forgets the connection after a failed write; the next write opens a new one.
    async fn reset(&mut self);
}

type Reply = oneshot::Sender<Result<Inserted, StoreError>>;

/// A message a platform accepted, to be recorded as sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The outbox row.
    pub key: super::OutboxKey,
    /// The platform's reference to the message (JSON).
    pub message_ref: String,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// For a digest: its folded cards follow as thread replies.
    pub thread_replies: bool,
}

/// One write waiting for the writer.
enum Write {
    /// An event insert from the webhook path.
    Insert(NewEvent, Reply),
    /// A batch of routing decisions from the pipeline.
    Route(Vec<Routed>, i64, oneshot::Sender<Result<(), StoreError>>),
    /// A message recorded as sent.
    Sent(Sent, oneshot::Sender<Result<(), StoreError>>),
    /// A write that proves the store can commit.
    Probe(i64, oneshot::Sender<Result<(), StoreError>>),
}

/// The handle through which requests enqueue writes. All writes of a process
/// go through its one writer, so they never wait on each other's locks.
pub struct GroupCommit {
    queue: mpsc::Sender<Write>,
    health: Arc<WriterHealth>,
}

impl GroupCommit {
    /// Starts the writer task.
    pub fn spawn(writer: impl BatchInsert) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        let health = Arc::new(WriterHealth::new());
        tokio::spawn(run(writer, receiver, health.clone()));
        Self { queue, health }
    }

    /// Whether the last write committed.
    pub fn is_writable(&self) -> bool {
        self.health.is_writable()
    }

    /// Records a sent message; resolves once committed (with whatever else
    /// was waiting for the writer, in the same transaction's flush).
    pub async fn mark_sent(&self, sent: Sent) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Sent(sent, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Commits one tiny write through the writer; resolves once it has committed.
    pub async fn probe(&self, at_ms: i64) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Probe(at_ms, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Inserts one event; resolves once its transaction has committed.
    pub async fn insert(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Insert(event, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Records routing decisions; resolves once they are committed.
    pub async fn record_routing(
        &self,
        routed: Vec<Routed>,
        routed_at_ms: i64,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Route(routed, routed_at_ms, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Whether the writer task has stopped.
    pub fn is_stopped(&self) -> bool {
        self.queue.is_closed()
    }
}

async fn run(
    mut writer: impl BatchInsert,
    mut queue: mpsc::Receiver<Write>,
    health: Arc<WriterHealth>,
) {
    let mut waiting: Vec<Write> = Vec::with_capacity(MAX_BATCH);
    let mut events = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut routes = Vec::new();
    let mut sent = Vec::new();
    let mut sent_replies = Vec::new();
    let mut probes = Vec::new();
    // `recv_many` waits for the first write, then takes whatever else is queued.
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        for write in waiting.drain(..) {
            match write {
                Write::Insert(event, reply) => {
                    events.push(event);
                    replies.push(reply);
                }
                Write::Route(routed, at, reply) => routes.push((routed, at, reply)),
                Write::Sent(mark, reply) => {
                    sent.push(mark);
                    sent_replies.push(reply);
                }
                Write::Probe(at, reply) => probes.push((at, reply)),
            }
        }
        if !events.is_empty() {
            let outcome = writer.insert_batch(&events).await;
            answer_inserts(outcome.as_ref(), &mut events, &mut replies);
            settle(&mut writer, &health, outcome.is_ok(), false).await;
        }
        for (routed, at, reply) in routes.drain(..) {
            let outcome = writer.record_routing(&routed, at).await;
            settle(&mut writer, &health, outcome.is_ok(), false).await;
            let _ = reply.send(outcome.map_err(StoreError::db("routing events")));
        }
        if !sent.is_empty() {
            let outcome = writer.mark_sent(&sent).await;
            settle(&mut writer, &health, outcome.is_ok(), false).await;
            let message = outcome.as_ref().err().map(ToString::to_string);
            for reply in sent_replies.drain(..) {
                let _ = reply.send(match &message {
                    None => Ok(()),
                    Some(message) => Err(StoreError::BatchFailed {
                        operation: "recording a sent message",
                        message: message.clone(),
                    }),
                });
            }
            sent.clear();
        }
        for (at, reply) in probes.drain(..) {
            let outcome = writer.probe(at).await;
            settle(&mut writer, &health, outcome.is_ok(), true).await;
            let _ = reply.send(outcome.map_err(StoreError::CannotCommit));
        }
    }
}

/// Records whether a write committed; after a failure the writer's
/// connection is reset, whatever state the failure left it in. Any failure
/// makes the store unready, and only a probe (`/readyz`: a write as large as
/// a large event) makes it ready again: a small write, or one event that
/// still fitted on a nearly full disk, proves nothing about the next event.
async fn settle(
    writer: &mut impl BatchInsert,
    health: &WriterHealth,
    committed: bool,
    is_probe: bool,
) {
    if !committed {
        writer.reset().await;
        health.record(false);
    } else if is_probe {
        health.record(true);
    }
}

/// Answers every insert of a batch: its sequence number, a duplicate, or the batch's error.
fn answer_inserts(
    outcome: Result<&InsertedRows, &sqlx::Error>,
    events: &mut Vec<NewEvent>,
    replies: &mut Vec<Reply>,
) {
    match outcome {
        Ok(inserted) => {
            let mut inserted = inserted.clone();
            for (event, reply) in events.drain(..).zip(replies.drain(..)) {
                // Taking the seq out means that a second copy of the same
                // event in this batch is answered as the duplicate it is.
                let outcome = match inserted.remove(&(event.account, event.event_id)) {
                    Some(seq) => Inserted::New { seq },
                    None => Inserted::Duplicate,
                };
                // The caller may have gone (client disconnected); the row is committed regardless.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::error!(error = %error, rows = events.len(), "batch insert failed; every request in it gets an error and Stripe retries");
            let message = error.to_string();
            events.clear();
            for reply in replies.drain(..) {
                let _ = reply.send(Err(StoreError::BatchFailed {
                    operation: "inserting an event",
                    message: message.clone(),
                }));
            }
        }
    }
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
