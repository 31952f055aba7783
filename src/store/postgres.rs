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
use sqlx::{PgPool, Postgres, Row};

use super::group_commit::{self, GroupCommit};
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

    /// The connection pool, for tests and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Writes batches through the pool, so a dropped connection is replaced.
struct PostgresWriter(PgPool);

group_commit::impl_batch_insert!(PostgresWriter, Postgres);

#[async_trait]
impl Store for PostgresStore {
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
        routed: &[(i64, Vec<NewDelivery>)],
        routed_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.writer
            .record_routing(routed.to_vec(), routed_at_ms)
            .await
    }

    async fn deliveries_of(&self, event_seq: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_seq, receiver, route, status FROM deliveries WHERE event_seq = $1 ORDER BY id",
        )
        .bind(event_seq)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("listing deliveries"))?;
        rows.iter()
            .map(|row| {
                Ok(Delivery {
                    id: row.try_get("id")?,
                    event_seq: row.try_get("event_seq")?,
                    receiver: row.try_get("receiver")?,
                    route: row.try_get("route")?,
                    status: row.try_get("status")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db("reading deliveries"))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.writer.is_stopped() {
            return Err(StoreError::WriterGone);
        }
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("checking the database"))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
