//! Group commit: many concurrent inserts, one transaction, one durable flush.
//!
//! A durable commit costs a disk flush. Paying one per webhook would cap
//! ingest at the disk's flush rate, so every write of a process (webhook
//! inserts and the pipeline's routing batches) goes through one writer task,
//! so they never wait on each other's locks. For inserts, it takes every
//! insert waiting in its queue (up to [`MAX_BATCH`]), writes them in one
//! transaction, commits once, and only then answers each waiting request. A request is therefore acknowledged only
//! after its own row is committed, and a busy server shares one flush between
//! many events. The backends supply the transaction ([`BatchInsert`]); the
//! queueing and the answers live here, once.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Database, Encode, QueryBuilder, Type};
use tokio::sync::{mpsc, oneshot};

use super::{Inserted, NewDelivery, NewEvent, StoreError};

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
        routed: &[(i64, Vec<NewDelivery>)],
        routed_at_ms: i64,
    ) -> Result<(), sqlx::Error>;
}

type Reply = oneshot::Sender<Result<Inserted, StoreError>>;

/// One write waiting for the writer.
enum Write {
    /// An event insert from the webhook path.
    Insert(NewEvent, Reply),
    /// A batch of routing decisions from the pipeline.
    Route(
        Vec<(i64, Vec<NewDelivery>)>,
        i64,
        oneshot::Sender<Result<(), StoreError>>,
    ),
}

/// The handle through which requests enqueue writes. All writes of a process
/// go through its one writer, so they never wait on each other's locks.
pub struct GroupCommit {
    queue: mpsc::Sender<Write>,
}

impl GroupCommit {
    /// Starts the writer task.
    pub fn spawn(writer: impl BatchInsert) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(writer, receiver));
        Self { queue }
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
        routed: Vec<(i64, Vec<NewDelivery>)>,
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

async fn run(mut writer: impl BatchInsert, mut queue: mpsc::Receiver<Write>) {
    let mut waiting: Vec<Write> = Vec::with_capacity(MAX_BATCH);
    let mut events = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut routes = Vec::new();
    // `recv_many` waits for the first write, then takes whatever else is queued.
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        for write in waiting.drain(..) {
            match write {
                Write::Insert(event, reply) => {
                    events.push(event);
                    replies.push(reply);
                }
                Write::Route(routed, at, reply) => routes.push((routed, at, reply)),
            }
        }
        if !events.is_empty() {
            commit_inserts(&mut writer, &mut events, &mut replies).await;
        }
        for (routed, at, reply) in routes.drain(..) {
            let outcome = writer
                .record_routing(&routed, at)
                .await
                .map_err(StoreError::db("routing events"));
            let _ = reply.send(outcome);
        }
    }
}

async fn commit_inserts(
    writer: &mut impl BatchInsert,
    events: &mut Vec<NewEvent>,
    replies: &mut Vec<Reply>,
) {
    match writer.insert_batch(events).await {
        Ok(mut inserted) => {
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

/// Implements [`BatchInsert`] for a writer newtype whose field has `begin()`
/// (a connection or a pool) on database `$db`. A macro rather than a generic
/// impl: the two bodies are the same tokens, but a generic version would need
/// higher-ranked executor bounds that sqlx's transaction lifetimes defeat.
macro_rules! impl_batch_insert {
    ($writer:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::group_commit::BatchInsert for $writer {
            async fn insert_batch(
                &mut self,
                events: &[$crate::store::NewEvent],
            ) -> Result<$crate::store::group_commit::InsertedRows, sqlx::Error> {
                use sqlx::Row;
                let mut tx = self.0.begin().await?;
                let mut inserted =
                    $crate::store::group_commit::InsertedRows::with_capacity(events.len());
                for chunk in $crate::store::group_commit::chunks(events) {
                    let rows = $crate::store::group_commit::insert_statement::<$db>(chunk)
                        .build()
                        .persistent(true)
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in rows {
                        inserted.insert((row.get(1), row.get(2)), row.get(0));
                    }
                }
                tx.commit().await?;
                Ok(inserted)
            }

            async fn record_routing(
                &mut self,
                routed: &[(i64, Vec<$crate::store::NewDelivery>)],
                routed_at_ms: i64,
            ) -> Result<(), sqlx::Error> {
                use $crate::store::group_commit::{
                    DELIVERY_CHUNK, deliveries_statement, mark_routed_statement,
                };
                let rows: Vec<(i64, &$crate::store::NewDelivery)> = routed
                    .iter()
                    .flat_map(|(seq, ds)| ds.iter().map(move |d| (*seq, d)))
                    .collect();
                let seqs: Vec<i64> = routed.iter().map(|(seq, _)| *seq).collect();
                let mut tx = self.0.begin().await?;
                for chunk in rows.chunks(DELIVERY_CHUNK) {
                    deliveries_statement::<$db>(chunk, routed_at_ms)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                }
                for chunk in seqs.chunks(DELIVERY_CHUNK) {
                    mark_routed_statement::<$db>(chunk, routed_at_ms)
                        .build()
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
        }
    };
}

pub(crate) use impl_batch_insert;

/// Rows of deliveries per INSERT statement (4 bound parameters each).
pub const DELIVERY_CHUNK: usize = 256;

/// The multi-row INSERT of deliveries, skipping those already written.
pub fn deliveries_statement<'a, DB>(
    rows: &'a [(i64, &'a NewDelivery)],
    routed_at_ms: i64,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query =
        QueryBuilder::new("INSERT INTO deliveries (event_seq, receiver, route, created_at_ms) ");
    query.push_values(rows.iter(), |mut row, (seq, delivery)| {
        row.push_bind(*seq)
            .push_bind(delivery.receiver.as_str())
            .push_bind(delivery.route.as_str())
            .push_bind(routed_at_ms);
    });
    query.push(" ON CONFLICT (event_seq, receiver) DO NOTHING");
    query
}

/// The UPDATE that marks events routed (those no other replica marked first).
pub fn mark_routed_statement<'a, DB>(seqs: &'a [i64], routed_at_ms: i64) -> QueryBuilder<'a, DB>
where
    DB: Database,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("UPDATE events SET routed_at_ms = ");
    query.push_bind(routed_at_ms);
    query.push(" WHERE routed_at_ms IS NULL AND seq IN (");
    let mut separated = query.separated(", ");
    for seq in seqs {
        separated.push_bind(*seq);
    }
    query.push(")");
    query
}

/// The multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` for one chunk,
/// in either backend's placeholder syntax.
pub fn insert_statement<'a, DB>(chunk: &'a [NewEvent]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "INSERT INTO events (account, event_id, event_type, livemode, connect_account, api_version, created, received_at_ms, payload) ",
    );
    query.push_values(chunk.iter(), |mut row, event| {
        row.push_bind(event.account.as_str())
            .push_bind(event.event_id.as_str())
            .push_bind(event.event_type.as_str())
            .push_bind(event.livemode)
            .push_bind(event.connect_account.as_deref())
            .push_bind(event.api_version.as_deref())
            .push_bind(event.created)
            .push_bind(event.received_at_ms)
            .push_bind(event.payload.as_str());
    });
    query.push(" ON CONFLICT (account, event_id) DO NOTHING RETURNING seq, account, event_id");
    query
}

/// Splits `events` into chunks of [`CHUNK_SIZES`].
pub fn chunks(mut events: &[NewEvent]) -> impl Iterator<Item = &[NewEvent]> {
    std::iter::from_fn(move || {
        if events.is_empty() {
            return None;
        }
        let size = CHUNK_SIZES
            .into_iter()
            .find(|size| *size <= events.len())
            .unwrap_or(1);
        let (chunk, rest) = events.split_at(size);
        events = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_use_only_the_fixed_sizes_and_cover_everything() {
        let event = NewEvent {
            account: "a".into(),
            event_id: "evt_1".into(),
            event_type: "t".into(),
            livemode: false,
            connect_account: None,
            api_version: None,
            created: 1,
            received_at_ms: 1,
            payload: "{}".into(),
        };
        for len in [0, 1, 3, 5, 64, 85, 300, 512] {
            let events = vec![event.clone(); len];
            let sizes: Vec<usize> = chunks(&events).map(<[NewEvent]>::len).collect();
            assert_eq!(sizes.iter().sum::<usize>(), len);
            assert!(sizes.iter().all(|s| CHUNK_SIZES.contains(s)), "{sizes:?}");
        }
    }
}
