//! SQLite store: the embedded default. WAL mode, durable commits, group commit.
//!
//! Every commit in WAL mode with `synchronous = FULL` is flushed to disk
//! before it returns. Inserts go through one writer connection driven by
//! [`GroupCommit`], which shares each flush among all events waiting at that
//! moment. Reads use a separate pool; WAL lets them run while the writer writes.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, Sqlite, SqliteConnection, SqlitePool};

use super::group_commit::{self, GroupCommit};
use super::{
    Delivery, EVENT_COLUMNS, Inserted, NewDelivery, NewEvent, Store, StoreError, StoredEvent,
    migrations,
};

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    reader: SqlitePool,
    writer: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at a `sqlite:` URL and migrates it.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("{url:?} is not a SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let filename = options.get_filename();
        if filename.as_os_str().is_empty()
            || url.contains(":memory:")
            || url.contains("mode=memory")
        {
            return Err(StoreError::Url(
                "an in-memory SQLite database would lose events on restart; give a file path"
                    .to_owned(),
            ));
        }
        if let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Url(format!("cannot create the folder {}: {e}", dir.display()))
            })?;
        }
        let mut writer = SqliteConnection::connect_with(&options)
            .await
            .map_err(StoreError::db("opening the SQLite database"))?;
        migrations::migrator(migrations::SQLITE)
            .await
            .map_err(StoreError::Migrate)?
            .run_direct(&mut writer)
            .await
            .map_err(StoreError::Migrate)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(StoreError::db("opening the SQLite read pool"))?;
        Ok(Self {
            reader,
            writer: GroupCommit::spawn(SqliteWriter(writer)),
        })
    }
}

/// The one connection that writes.
struct SqliteWriter(SqliteConnection);

group_commit::impl_batch_insert!(SqliteWriter, Sqlite);

#[async_trait]
impl Store for SqliteStore {
    async fn insert_event(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        self.writer.insert(event).await
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
            "SELECT {EVENT_COLUMNS} FROM events WHERE account = ? AND event_id = ?"
        ))
        .bind(account)
        .bind(event_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(StoreError::db("reading an event"))?;
        row.as_ref()
            .map(StoredEvent::from_row)
            .transpose()
            .map_err(StoreError::db("reading an event"))
    }

    async fn count_events(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(StoreError::db("counting events"))?;
        Ok(count.try_into().unwrap_or(0))
    }

    async fn unrouted_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE routed_at_ms IS NULL ORDER BY seq LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
            "SELECT id, event_seq, receiver, route, status FROM deliveries WHERE event_seq = ? ORDER BY id",
        )
        .bind(event_seq)
        .fetch_all(&self.reader)
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
            .execute(&self.reader)
            .await
            .map_err(StoreError::db("checking the database"))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
