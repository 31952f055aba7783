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
use sqlx::{PgPool, Postgres};

use super::group_commit::{self, GroupCommit};
use super::impl_store;
use super::interactions::{ActionToken, AuditEntry, NewToken, impl_interactions};
use super::outbox::{DeadLetter, OutboxCounts, OutboxItem, OutboxKey, impl_outbox};
use super::{
    Delivery, EVENT_COLUMNS, Inserted, NewDelivery, NewEvent, Store, StoreError, StoredEvent,
    migrations,
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
            .connect_with(options)
            .await
            .map_err(StoreError::db("connecting to PostgreSQL"))?;
        migrations::migrator(migrations::POSTGRES)
            .await
            .map_err(StoreError::Migrate)?
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self {
            writer: GroupCommit::spawn(PostgresWriter(pool.clone())),
            pool,
        })
    }
}

/// Writes batches through the pool, so a dropped connection is replaced.
struct PostgresWriter(PgPool);

group_commit::impl_batch_insert!(PostgresWriter, Postgres);

impl_outbox!(PostgresStore);

impl_interactions!(PostgresStore);

impl_store!(PostgresStore, "postgres");
