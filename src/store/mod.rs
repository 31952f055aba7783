//! The event store: one [`Store`] trait, two backends.
//!
//! SQLite ([`sqlite`], WAL, the embedded default) needs no set-up; PostgreSQL
//! ([`postgres`]) serves several replicas. Both run the same test suite.
//! Events are deduplicated on `(account, event id)`: Stripe delivers at least
//! once, and a duplicate must be acknowledged but stored only once. The raw
//! payload is kept, because routing, rendering and replay start from it.

pub mod batch_sql;
pub mod cases;
pub mod group_commit;
pub mod interactions;
pub mod jobs;
pub mod migrations;
pub mod outbox;
pub mod payments;
pub mod postgres;
pub mod sqlite;
pub mod writer;

use std::sync::Arc;

use async_trait::async_trait;

pub use cases::{CaseMark, CaseRow, CaseStep, Cases, NewSilence, Silence};
pub use interactions::{ActionToken, AuditEntry, Interactions, NewToken};
pub use jobs::{Job, JobKind, Jobs, Measure, MoneyLine, NewJob};
pub use outbox::{DeadLetter, Outbox, OutboxCounts, OutboxItem, OutboxKey};
pub use payments::{PaymentRequest, Payments};

/// An event about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The endpoint's account name (`default` or `[stripe.accounts.NAME]`).
    pub account: String,
    /// Stripe's event id.
    pub event_id: String,
    /// Stripe's event type.
    pub event_type: String,
    /// False for test mode.
    pub livemode: bool,
    /// The connected account the event came from (Connect), if any.
    pub connect_account: Option<String>,
    /// The API version of the payload.
    pub api_version: Option<String>,
    /// When Stripe created the event, Unix seconds.
    pub created: i64,
    /// When we received it, Unix milliseconds.
    pub received_at_ms: i64,
    /// The raw, verified body, exactly as Stripe sent it.
    pub payload: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Store-wide insertion order.
    pub seq: i64,
    /// The event as it was inserted.
    pub event: NewEvent,
    /// When the pipeline routed it, Unix milliseconds.
    pub routed_at_ms: Option<i64>,
}

impl StoredEvent {
    /// The typed view of the stored payload: parse it once per stage and pass the view on.
    pub fn view(&self) -> Result<crate::event::EventView, crate::event::view::ViewError> {
        crate::event::EventView::from_payload(
            &self.event.payload,
            &self.event.event_id,
            &self.event.account,
        )
    }

    /// Reads an event row (columns as in `SELECT seq, account, event_id, …`) of either backend.
    pub fn from_row<R>(row: &R) -> Result<Self, sqlx::Error>
    where
        R: sqlx::Row,
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            seq: row.try_get("seq")?,
            event: NewEvent {
                account: row.try_get("account")?,
                event_id: row.try_get("event_id")?,
                event_type: row.try_get("event_type")?,
                livemode: row.try_get("livemode")?,
                connect_account: row.try_get("connect_account")?,
                api_version: row.try_get("api_version")?,
                created: row.try_get("created")?,
                received_at_ms: row.try_get("received_at_ms")?,
                payload: row.try_get("payload")?,
            },
            routed_at_ms: row.try_get("routed_at_ms")?,
        })
    }
}

/// [`EVENT_COLUMNS`] qualified by a table alias (`e.seq, e.account, …`),
/// for queries that join events to another table.
pub fn event_columns_of(alias: &str) -> String {
    EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns [`StoredEvent::from_row`] reads.
pub const EVENT_COLUMNS: &str = "seq, account, event_id, event_type, livemode, connect_account, api_version, created, received_at_ms, payload, routed_at_ms";

/// A delivery the pipeline decided on: this event, to this receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The receiver's name.
    pub receiver: String,
    /// The route that chose it, e.g. `route.routes[1]`.
    pub route: String,
    /// The case key of the route's `group_by`, which replaces the object's
    /// own case (e.g. `group:route.routes[2]:customer.updated:cus_1`).
    pub group: Option<String>,
    /// Not before this time, Unix milliseconds (a group's `group_wait`).
    pub not_before_ms: i64,
    /// The silence that holds it back: stored as `silenced`, never posted.
    pub silenced_by: Option<i64>,
}

impl NewDelivery {
    /// A delivery to `receiver` by `route`, with no grouping or silence.
    pub fn new(receiver: impl Into<String>, route: impl Into<String>) -> Self {
        Self {
            receiver: receiver.into(),
            route: route.into(),
            group: None,
            not_before_ms: 0,
            silenced_by: None,
        }
    }
}

/// The routing of one event: its deliveries and the ids of its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The event.
    pub seq: i64,
    /// The ids its case may be known by, preferred key first (see `event::case::case_ids`).
    pub case_ids: Vec<String>,
    /// Where it goes.
    pub deliveries: Vec<NewDelivery>,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The event's sequence number.
    pub event_seq: i64,
    /// The receiver's name.
    pub receiver: String,
    /// The route that chose it.
    pub route: String,
    /// `pending`, then `sent`, `folded` (into a digest), `dead` or `skipped`.
    pub status: String,
    /// Tries made.
    pub attempts: i64,
    /// The last error, while retrying or dead.
    pub last_error: Option<String>,
    /// The platform's reference to the posted message (JSON), once sent.
    pub message_ref: Option<String>,
    /// The digest it was folded into.
    pub digest_id: Option<i64>,
}

/// What [`Store::insert_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The event is new and is now committed.
    New {
        /// Its sequence number.
        seq: i64,
    },
    /// The same (account, event id) was already stored; nothing changed.
    Duplicate,
}

/// A store failure. The message names the operation; the cause is kept as source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error while {operation}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The driver error.
        #[source]
        source: sqlx::Error,
    },
    /// Schema migration failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The storage URL cannot be used.
    #[error("storage url: {0}")]
    Url(String),
    /// A probe write failed: the store cannot commit (a full disk, a read-only
    /// file system), so `/readyz` answers 503 until one commits.
    #[error("the store cannot commit")]
    CannotCommit(#[source] sqlx::Error),
    /// The writer task stopped (the process is shutting down).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// The group-commit transaction this write was part of failed; the cause
    /// is logged once by the writer, and every write in the batch gets this.
    #[error("database error while {operation}: the batch this write was part of failed: {message}")]
    BatchFailed {
        /// What was being done.
        operation: &'static str,
        /// The driver's message.
        message: String,
    },
}

impl StoreError {
    fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}

/// Runs `work` in a write transaction of its own on a pooled connection,
/// begun with `begin` (`BEGIN IMMEDIATE` on SQLite). If anything fails, the
/// connection is closed instead of going back to the pool: after a failed
/// COMMIT (a full disk) its transaction state can no longer be trusted, and
/// a later "commit" on it might commit nothing.
pub(crate) async fn in_write_tx<DB, T>(
    pool: &sqlx::Pool<DB>,
    begin: &'static str,
    work: impl AsyncFnOnce(&mut DB::Connection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error>
where
    DB: sqlx::Database,
{
    use sqlx::Connection;
    let mut conn = pool.acquire().await?;
    let outcome = async {
        let mut tx = conn.begin_with(begin).await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
    .await;
    if outcome.is_err() || conn.is_in_transaction() {
        conn.close_on_drop();
    }
    outcome
}

/// Milliseconds since the Unix epoch: the clock of every `*_at_ms` column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Persistent storage of events and their deliveries.
#[async_trait]
pub trait Store: Outbox + Interactions + Cases + Jobs + Payments + Send + Sync + 'static {
    /// Stores an event once. Returns only after the row is durably committed.
    async fn insert_event(&self, event: NewEvent) -> Result<Inserted, StoreError>;

    /// The most recently received events, newest first.
    async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// One event by account and id.
    async fn event(&self, account: &str, event_id: &str)
    -> Result<Option<StoredEvent>, StoreError>;

    /// How many events are stored.
    async fn count_events(&self) -> Result<u64, StoreError>;

    /// Events not yet routed, oldest first.
    async fn unrouted_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// Records the routing of a batch of events in one transaction: for each
    /// event its case key (resolved through `case_aliases`), its deliveries
    /// (each (event, receiver) once, even when two replicas route it at the
    /// same time) and its `routed_at_ms`.
    async fn record_routing(
        &self,
        routed: Vec<Routed>,
        routed_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// The deliveries of one event, in the order they were decided.
    async fn deliveries_of(&self, event_seq: i64) -> Result<Vec<Delivery>, StoreError>;

    /// Checks that the database answers and, after a failed write, that it
    /// can commit again (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Where catch-up of `account` lists from: the start (Unix seconds) of
    /// its last successful run, else the newest stored event's `created`.
    async fn catch_up_from(&self, account: &str) -> Result<Option<i64>, StoreError>;

    /// Records a successful catch-up of `account` that listed from `checked_from`.
    async fn set_catch_up_cursor(
        &self,
        account: &str,
        checked_from: i64,
        at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Which backend this is, for logs.
    fn backend(&self) -> &'static str;
}

/// Implements [`Store`] for a backend struct with a sqlx pool in `pool` and a
/// [`group_commit::GroupCommit`] in `writer`. The SQL is the same for both
/// backends: `$1`-style placeholders, which SQLite binds by position too (see
/// the `dollar_placeholders_bind_in_order` test). Item names resolve where the
/// macro is invoked, so each backend module imports what the body uses.
macro_rules! impl_store {
    ($store:ty, $backend:literal) => {
        #[async_trait]
        impl Store for $store {
            async fn insert_event(&self, event: NewEvent) -> Result<Inserted, StoreError> {
                self.writer.insert(event).await
            }

            async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing events"))?;
                rows.iter()
                    .map(StoredEvent::from_row)
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::db("reading events"))
            }

            async fn event(
                &self,
                account: &str,
                event_id: &str,
            ) -> Result<Option<StoredEvent>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE account = $1 AND event_id = $2"
                ))
                .bind(account)
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading an event"))?;
                row.as_ref()
                    .map(StoredEvent::from_row)
                    .transpose()
                    .map_err(StoreError::db("reading an event"))
            }

            async fn count_events(&self) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::db("counting events"))?;
                Ok(count.try_into().unwrap_or(0))
            }

            async fn unrouted_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE routed_at_ms IS NULL ORDER BY seq LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing unrouted events"))?;
                rows.iter()
                    .map(StoredEvent::from_row)
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::db("reading events"))
            }

            async fn record_routing(
                &self,
                routed: Vec<$crate::store::Routed>,
                routed_at_ms: i64,
            ) -> Result<(), StoreError> {
                self.writer.record_routing(routed, routed_at_ms).await
            }

            async fn deliveries_of(&self, event_seq: i64) -> Result<Vec<Delivery>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, event_seq, receiver, route, status, attempts, last_error, message_ref, digest_id FROM deliveries WHERE event_seq = $1 ORDER BY id",
                )
                .bind(event_seq)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing deliveries"))?;
                rows.iter()
                    .map(|row| {
                        use sqlx::Row;
                        Ok(Delivery {
                            id: row.try_get("id")?,
                            event_seq: row.try_get("event_seq")?,
                            receiver: row.try_get("receiver")?,
                            route: row.try_get("route")?,
                            status: row.try_get("status")?,
                            attempts: row.try_get("attempts")?,
                            last_error: row.try_get("last_error")?,
                            message_ref: row.try_get("message_ref")?,
                            digest_id: row.try_get("digest_id")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading deliveries"))
            }

            async fn ping(&self) -> Result<(), StoreError> {
                if self.writer.is_stopped() {
                    return Err(StoreError::WriterGone);
                }
                // After a failed write, ready again only once a real write commits.
                if !self.writer.is_writable() {
                    self.writer.probe($crate::store::now_ms()).await?;
                }
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("checking the database"))?;
                Ok(())
            }

            async fn catch_up_from(&self, account: &str) -> Result<Option<i64>, StoreError> {
                let cursor: Option<i64> =
                    sqlx::query_scalar("SELECT checked_from FROM stripe_cursors WHERE account = $1")
                        .bind(account)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::db("reading the catch-up cursor"))?;
                if cursor.is_some() {
                    return Ok(cursor);
                }
                sqlx::query_scalar("SELECT MAX(created) FROM events WHERE account = $1")
                    .bind(account)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::db("reading the newest event"))
            }

            async fn set_catch_up_cursor(
                &self,
                account: &str,
                checked_from: i64,
                at_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO stripe_cursors (account, checked_from, updated_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (account) DO UPDATE SET checked_from = excluded.checked_from, updated_at_ms = excluded.updated_at_ms",
                )
                .bind(account)
                .bind(checked_from)
                .bind(at_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording the catch-up cursor"))?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }
    };
}

pub(crate) use impl_store;

/// Opens the store named by a storage URL and brings its schema up to date.
pub async fn open(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::open(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::open(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Url(
            "must start with \"sqlite:\" or \"postgres://\"".to_owned(),
        ))
    }
}
