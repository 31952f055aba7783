//! The SQL of the writer's batches, in either backend's placeholder syntax:
//! the multi-row inserts of events and deliveries, the routing mark, and the
//! `impl_batch_insert` macro that runs them in one transaction per batch.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::group_commit::CHUNK_SIZES;
use super::{NewDelivery, NewEvent};

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
                // As large as a large event, and different each time, so
                // that the write needs as much room as the next event would.
                let ballast = format!("{at_ms:x}").repeat(
                    $crate::store::group_commit::PROBE_BYTES / 8,
                );
                sqlx::query(
                    "INSERT INTO writer_health (id, checked_at_ms, ballast) VALUES (1, $1, $2)
                     ON CONFLICT (id) DO UPDATE SET checked_at_ms = excluded.checked_at_ms, ballast = excluded.ballast",
                )
                .bind(at_ms)
                .bind(ballast)
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
