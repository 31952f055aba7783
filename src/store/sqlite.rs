//! SQLite store: the embedded default. WAL mode, durable commits, group commit.
//!
//! Every commit in WAL mode with `synchronous = FULL` is flushed to disk
//! before it returns. Every write (events, routing) goes through one writer
//! connection driven by [`GroupCommit`], which shares each flush among all
//! events waiting at that moment. Reads use a separate pool; WAL lets them run
//! while the writer writes.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool};

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

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
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
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.clone())
            .await
            .map_err(StoreError::db("opening the SQLite read pool"))?;
        Ok(Self {
            pool,
            writer: GroupCommit::spawn(Writer::new(writer, options, BEGIN_WRITE)),
        })
    }
}

/// How every write transaction starts: with the write lock taken at once, so
/// that two writers never deadlock upgrading a read lock.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

group_commit::impl_batch_insert!(SqliteConnection, Sqlite);

impl_outbox!(SqliteStore);

impl_interactions!(SqliteStore);

impl_cases!(SqliteStore);

impl_jobs!(SqliteStore, "sqlite");

impl_payments!(SqliteStore);

impl_store!(SqliteStore, "sqlite");

#[cfg(test)]
mod shared_sql {
    #[tokio::test]
    async fn dollar_placeholders_bind_in_order() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let (a, b): (i64, String) = sqlx::query_as("SELECT $1 - $2, $3")
            .bind(10i64)
            .bind(3i64)
            .bind("x")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((a, b.as_str()), (7, "x"));
        let c: i64 = sqlx::query_scalar("SELECT $1 + $1 + $2")
            .bind(5i64)
            .bind(1i64)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(c, 11);
    }
}
