//! PostgreSQL store: the same [`Store`] for several replicas on one database.
//!
//! The unique `(account, event_id)` constraint deduplicates across replicas:
//! two replicas receiving the same delivery race on `INSERT … ON CONFLICT DO
//! NOTHING`, one wins, the other sees a duplicate. Inserts go through
//! [`GroupCommit`], as on SQLite: one transaction and one WAL flush for all
//! events waiting at that moment.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::cases::impl_cases;
use super::group_commit::{self, GroupCommit, Writer};
use super::impl_store;
use super::interactions::{ActionToken, AuditEntry, NewToken, impl_interactions};
use super::jobs::impl_jobs;
use super::outbox::{DeadLetter, OutboxCounts, OutboxItem, OutboxKey, impl_outbox};
use super::payments::impl_payments;
use super::{
    Delivery, EVENT_COLUMNS, Inserted, NewEvent, Store, StoreError, StoredEvent, migrations,
};

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: PgPool,
    writer: GroupCommit,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL and migrates the schema.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("not a PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::db("connecting to PostgreSQL"))?;
        migrations::migrator(migrations::POSTGRES)
            .await
            .map_err(StoreError::Migrate)?
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        let writer = PgConnection::connect_with(&options)
            .await
            .map_err(StoreError::db("connecting to PostgreSQL"))?;
        Ok(Self {
            writer: GroupCommit::spawn(Writer::new(writer, options, BEGIN_WRITE)),
            pool,
        })
    }
}

/// How every write transaction starts.
const BEGIN_WRITE: &str = "BEGIN";

// One connection writes the batches; after a failure (a dropped connection,
// a restarted server) it is closed and the next batch opens a new one.
group_commit::impl_batch_insert!(PgConnection, Postgres);

impl_outbox!(PostgresStore);

impl_interactions!(PostgresStore);

impl_cases!(PostgresStore);

impl_jobs!(PostgresStore, "postgres");

impl_payments!(PostgresStore);

impl_store!(PostgresStore, "postgres");
