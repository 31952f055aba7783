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
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use sqlx::{Connection, Database, Encode, QueryBuilder, Transaction, Type};
use tokio::sync::{mpsc, oneshot};

use super::{Inserted, NewDelivery, NewEvent, StoreError};

/// The operation of a failed probe write, as `/readyz` reports it.
pub const PROBE: &str = "proving the store can commit";

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

    /// Records sent messages in one committed transaction (see
    /// [`super::Outbox::mark_sent`]); a digest's folded cards become pending
    /// thread replies where `thread_replies` says so.
    async fn mark_sent(&mut self, sent: &[Sent]) -> Result<(), sqlx::Error>;

    /// Commits one tiny write (the `writer_health` row): proof that the store can commit.
    async fn probe(&mut self, at_ms: i64) -> Result<(), sqlx::Error>;

    /// Forgets the connection after a failed write; the next write opens a new one.
    async fn reset(&mut self);
}

/// The one connection that writes, opened again after any failure.
pub struct Writer<C: Connection> {
    conn: Option<C>,
    options: <C as Connection>::Options,
    begin: &'static str,
}

impl<C: Connection> Writer<C> {
    /// A writer on `conn`, reconnecting with `options`; every transaction
    /// starts with `begin` (`BEGIN IMMEDIATE` for SQLite, `BEGIN` for PostgreSQL).
    pub fn new(conn: C, options: <C as Connection>::Options, begin: &'static str) -> Self {
        Self {
            conn: Some(conn),
            options,
            begin,
        }
    }

    /// Begins a write transaction, connecting first if the last one was reset.
    pub async fn begin_write(&mut self) -> Result<Transaction<'_, C::Database>, sqlx::Error> {
        let begin = self.begin;
        let conn = match &mut self.conn {
            Some(conn) => conn,
            empty => empty.insert(C::connect_with(&self.options).await?),
        };
        conn.begin_with(begin).await
    }

    /// After a COMMIT: an error unless the connection really left its transaction.
    pub fn committed(&self) -> Result<(), sqlx::Error> {
        if self.conn.as_ref().is_some_and(C::is_in_transaction) {
            return Err(sqlx::Error::Protocol(
                "the connection is still in a transaction after COMMIT".to_owned(),
            ));
        }
        Ok(())
    }

    /// Closes the connection; the next write opens a new one.
    pub async fn discard(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(error) = conn.close().await
        {
            tracing::debug!(error = %error, "closing the failed writer connection");
        }
    }
}

/// Whether the writer's last write committed; shared with `/readyz`.
#[derive(Debug)]
pub struct WriterHealth {
    writable: AtomicBool,
}

impl WriterHealth {
    fn record(&self, committed: bool) {
        let was = self.writable.swap(committed, Ordering::Relaxed);
        if was != committed {
            if committed {
                tracing::info!("the store commits again");
            } else {
                tracing::error!(
                    "the store cannot commit; /readyz answers 503 until a write succeeds"
                );
            }
        }
    }

    /// False from a failed write until the next one that commits.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }
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
    Route(
        Vec<(i64, Vec<NewDelivery>)>,
        i64,
        oneshot::Sender<Result<(), StoreError>>,
    ),
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
        let health = Arc::new(WriterHealth {
            writable: AtomicBool::new(true),
        });
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
            settle(&mut writer, &health, outcome.is_ok()).await;
        }
        for (routed, at, reply) in routes.drain(..) {
            let outcome = writer.record_routing(&routed, at).await;
            settle(&mut writer, &health, outcome.is_ok()).await;
            let _ = reply.send(outcome.map_err(StoreError::db("routing events")));
        }
        if !sent.is_empty() {
            let outcome = writer.mark_sent(&sent).await;
            settle(&mut writer, &health, outcome.is_ok()).await;
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
            settle(&mut writer, &health, outcome.is_ok()).await;
            let _ = reply.send(outcome.map_err(StoreError::db(PROBE)));
        }
    }
}

/// Records whether a write committed; after a failure the writer's
/// connection is reset, whatever state the failure left it in.
async fn settle(writer: &mut impl BatchInsert, health: &WriterHealth, committed: bool) {
    if !committed {
        writer.reset().await;
    }
    health.record(committed);
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

/// Implements [`BatchInsert`] for [`Writer`] on connection type `$conn` of
/// database `$db`. A macro rather than a generic impl: the two bodies are
/// the same tokens, but a generic version would need higher-ranked executor
/// bounds that sqlx's transaction lifetimes defeat.
macro_rules! impl_batch_insert {
    ($conn:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::group_commit::BatchInsert
            for $crate::store::group_commit::Writer<$conn>
        {
            async fn insert_batch(
                &mut self,
                events: &[$crate::store::NewEvent],
            ) -> Result<$crate::store::group_commit::InsertedRows, sqlx::Error> {
                use sqlx::Row;
                let mut tx = self.begin_write().await?;
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
                self.committed()?;
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
                let mut tx = self.begin_write().await?;
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
                tx.commit().await?;
                self.committed()
            }

            async fn mark_sent(
                &mut self,
                sent: &[$crate::store::group_commit::Sent],
            ) -> Result<(), sqlx::Error> {
                let mut tx = self.begin_write().await?;
                for mark in sent {
                    sqlx::query(&format!(
                        "UPDATE {} SET status = 'sent', message_ref = $1, sent_at_ms = $2, last_error = NULL WHERE id = $3",
                        mark.key.table()
                    ))
                    .bind(&mark.message_ref)
                    .bind(mark.at_ms)
                    .bind(mark.key.id())
                    .execute(&mut *tx)
                    .await?;
                    if let ($crate::store::OutboxKey::Digest(id), true) = (mark.key, mark.thread_replies) {
                        sqlx::query(
                            "UPDATE deliveries SET status = 'pending', next_attempt_at_ms = 0
                             WHERE digest_id = $1 AND status = 'folded'",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                self.committed()
            }

            async fn probe(&mut self, at_ms: i64) -> Result<(), sqlx::Error> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO writer_health (id, checked_at_ms) VALUES (1, $1)
                     ON CONFLICT (id) DO UPDATE SET checked_at_ms = excluded.checked_at_ms",
                )
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.committed()
            }

            async fn reset(&mut self) {
                self.discard().await;
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
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;

    fn event(id: &str) -> NewEvent {
        NewEvent {
            account: "a".into(),
            event_id: id.into(),
            event_type: "t".into(),
            livemode: false,
            connect_account: None,
            api_version: None,
            created: 1,
            received_at_ms: 1,
            payload: "{}".into(),
        }
    }

    /// A store whose Nth commit fails the way a full disk's did: the failure
    /// poisons its connection, and until the connection is reset every later
    /// "commit" answers Ok while storing nothing (the driver's SAVEPOINT
    /// inside a transaction that never commits).
    #[derive(Default)]
    struct FailNthCommit {
        fail_at: usize,
        commits: usize,
        poisoned: bool,
        resets: usize,
        stored: Arc<Mutex<HashSet<String>>>,
    }

    #[async_trait]
    impl BatchInsert for FailNthCommit {
        async fn insert_batch(&mut self, events: &[NewEvent]) -> Result<InsertedRows, sqlx::Error> {
            self.commits += 1;
            if self.commits == self.fail_at {
                self.poisoned = true;
                return Err(sqlx::Error::Protocol("database or disk is full".into()));
            }
            let mut inserted = InsertedRows::new();
            for (seq, event) in events.iter().enumerate() {
                if !self.poisoned {
                    self.stored.lock().unwrap().insert(event.event_id.clone());
                }
                inserted.insert((event.account.clone(), event.event_id.clone()), seq as i64);
            }
            Ok(inserted)
        }

        async fn record_routing(
            &mut self,
            _: &[(i64, Vec<NewDelivery>)],
            _: i64,
        ) -> Result<(), sqlx::Error> {
            Ok(())
        }

        async fn mark_sent(&mut self, _: &[Sent]) -> Result<(), sqlx::Error> {
            Ok(())
        }

        async fn probe(&mut self, _: i64) -> Result<(), sqlx::Error> {
            if self.poisoned {
                return Err(sqlx::Error::Protocol("still failing".into()));
            }
            Ok(())
        }

        async fn reset(&mut self) {
            self.resets += 1;
            self.poisoned = false;
        }
    }

    #[tokio::test]
    async fn a_failed_commit_is_refused_and_nothing_acknowledged_is_lost() {
        for fail_at in [1, 2, 5] {
            let stored = Arc::new(Mutex::new(HashSet::new()));
            let writer = GroupCommit::spawn(FailNthCommit {
                fail_at,
                stored: stored.clone(),
                ..FailNthCommit::default()
            });
            let (mut acknowledged, mut refused) = (Vec::new(), 0);
            for n in 0..20 {
                let id = format!("evt_{n}");
                match writer.insert(event(&id)).await {
                    Ok(Inserted::New { .. }) => acknowledged.push(id),
                    Ok(Inserted::Duplicate) => panic!("no duplicates were sent"),
                    Err(StoreError::BatchFailed { .. }) => {
                        refused += 1;
                        // The failure is remembered until a write commits again.
                        assert!(!writer.is_writable());
                        writer.probe(1).await.unwrap();
                        assert!(writer.is_writable(), "the probe committed after the reset");
                    }
                    Err(other) => panic!("unexpected {other}"),
                }
            }
            assert_eq!(refused, 1, "exactly the failed commit is refused");
            let stored = stored.lock().unwrap();
            let lost: Vec<&String> = acknowledged
                .iter()
                .filter(|id| !stored.contains(*id))
                .collect();
            assert!(
                lost.is_empty(),
                "fail at {fail_at}: acknowledged but not stored: {lost:?}"
            );
            assert_eq!(acknowledged.len(), 19, "recovery without a restart");
        }
    }

    /// The real writer refuses to open a transaction inside one it did not
    /// finish (no silent SAVEPOINT), and notices a COMMIT that left one open.
    #[tokio::test]
    async fn the_writer_never_nests_a_transaction() {
        use std::str::FromStr;

        use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::from_str(&format!(
            "sqlite://{}",
            dir.path().join("w.db").display()
        ))
        .unwrap()
        .create_if_missing(true);
        let conn = SqliteConnection::connect_with(&options).await.unwrap();
        let mut writer = Writer::new(conn, options, "BEGIN IMMEDIATE");
        let tx = writer.begin_write().await.unwrap();
        // A transaction the driver still believes open (as after a failed COMMIT).
        std::mem::forget(tx);
        assert!(
            writer.committed().is_err(),
            "an open transaction is noticed"
        );
        assert!(
            writer.begin_write().await.is_err(),
            "a nested BEGIN is refused, not turned into a SAVEPOINT"
        );
        writer.discard().await;
        let tx = writer
            .begin_write()
            .await
            .expect("a fresh connection after the reset");
        tx.commit().await.unwrap();
        writer.committed().unwrap();
    }

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
