//! SQLite store: the embedded default. WAL mode, durable commits, group commit.
//!
//! Each commit in WAL mode with `synchronous = FULL` costs an fsync. Paying
//! one per webhook would cap ingest at the disk's fsync rate, so all inserts
//! go through one writer task: it takes every insert waiting in its queue
//! (up to [`MAX_BATCH`]), writes them in one multi-row `INSERT … ON CONFLICT
//! DO NOTHING RETURNING`, commits once, and only then answers each waiting
//! request. A request is therefore acknowledged only after its row is on
//! disk, and a busy server shares one fsync between many events. Reads use a
//! separate pool; WAL lets them run while the writer writes.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{Inserted, NewEvent, Store, StoreError, StoredEvent, migrations};

/// Most inserts committed together. Bounded so that one batch's statement stays
/// well under SQLite's 32,766 bound parameters (9 per row).
pub const MAX_BATCH: usize = 512;

/// How many inserts may wait for the writer before callers wait to enqueue.
const QUEUE_DEPTH: usize = 8192;

const EVENT_COLUMNS: &str = "seq, account, event_id, event_type, livemode, connect_account, api_version, created, received_at_ms, payload, routed_at_ms";

type Reply = oneshot::Sender<Result<Inserted, StoreError>>;

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    reader: SqlitePool,
    writer: mpsc::Sender<(NewEvent, Reply)>,
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
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_writer(writer, receiver));
        Ok(Self {
            reader,
            writer: sender,
        })
    }
}

/// The single writer: batches queued inserts into one transaction each.
async fn run_writer(
    mut connection: SqliteConnection,
    mut queue: mpsc::Receiver<(NewEvent, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // `recv_many` waits for the first insert, then takes whatever else is queued.
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = insert_batch(&mut connection, &batch).await;
        for ((_, reply), result) in batch.drain(..).zip(results) {
            // The caller may have gone (client disconnected); the row is committed regardless.
            let _ = reply.send(result);
        }
    }
    let _ = connection.close().await;
}

/// Row counts of the multi-row INSERT statements. A batch is split into chunks
/// of these sizes (largest first), so only five distinct statements exist and
/// each is prepared once and then served from sqlx's statement cache.
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

async fn insert_batch(
    connection: &mut SqliteConnection,
    batch: &[(NewEvent, Reply)],
) -> Vec<Result<Inserted, StoreError>> {
    let outcome = async {
        let mut tx = connection.begin().await?;
        let mut inserted: HashMap<(String, String), i64> = HashMap::with_capacity(batch.len());
        let mut rest = batch;
        while !rest.is_empty() {
            let size = CHUNK_SIZES.into_iter().find(|size| *size <= rest.len()).unwrap_or(1);
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO events (account, event_id, event_type, livemode, connect_account, api_version, created, received_at_ms, payload) ",
            );
            query.push_values(chunk.iter(), |mut row, (event, _)| {
                row.push_bind(&event.account)
                    .push_bind(&event.event_id)
                    .push_bind(&event.event_type)
                    .push_bind(event.livemode)
                    .push_bind(&event.connect_account)
                    .push_bind(&event.api_version)
                    .push_bind(event.created)
                    .push_bind(event.received_at_ms)
                    .push_bind(&event.payload);
            });
            query.push(" ON CONFLICT (account, event_id) DO NOTHING RETURNING seq, account, event_id");
            for row in query.build().persistent(true).fetch_all(&mut *tx).await? {
                inserted.insert((row.get(1), row.get(2)), row.get(0));
            }
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(inserted)
    }
    .await;
    match outcome {
        Ok(mut inserted) => batch
            .iter()
            .map(|(event, _)| {
                // Taking the seq out means that a second copy of the same event
                // in this batch is answered as the duplicate it is.
                Ok(
                    match inserted.remove(&(event.account.clone(), event.event_id.clone())) {
                        Some(seq) => Inserted::New { seq },
                        None => Inserted::Duplicate,
                    },
                )
            })
            .collect(),
        Err(error) => {
            tracing::error!(error = %error, rows = batch.len(), "SQLite batch insert failed; every request in it gets an error");
            let message = error.to_string();
            batch
                .iter()
                .map(|_| {
                    Err(StoreError::Database {
                        operation: "inserting an event",
                        source: sqlx::Error::Protocol(message.clone()),
                    })
                })
                .collect()
        }
    }
}

fn stored_event(row: &sqlx::sqlite::SqliteRow) -> StoredEvent {
    StoredEvent {
        seq: row.get("seq"),
        event: NewEvent {
            account: row.get("account"),
            event_id: row.get("event_id"),
            event_type: row.get("event_type"),
            livemode: row.get("livemode"),
            connect_account: row.get("connect_account"),
            api_version: row.get("api_version"),
            created: row.get("created"),
            received_at_ms: row.get("received_at_ms"),
            payload: row.get("payload"),
        },
        routed_at_ms: row.get("routed_at_ms"),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_event(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((event, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db("listing events"))?;
        Ok(rows.iter().map(stored_event).collect())
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
        Ok(row.as_ref().map(stored_event))
    }

    async fn count_events(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.reader)
            .await
            .map_err(StoreError::db("counting events"))?;
        Ok(count.try_into().unwrap_or(0))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.writer.is_closed() {
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
