//! The SQL of the writer's batches, in either backend's placeholder syntax:
//! the multi-row inserts of events and deliveries, the case aliases of a
//! routing batch, the routing mark, and the
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
                routed: &[$crate::store::Routed],
                routed_at_ms: i64,
            ) -> Result<(), sqlx::Error> {
                use $crate::store::group_commit::{
                    DELIVERY_CHUNK, aliases_statement, case_events_statement, deliveries_statement,
                    known_aliases_statement, mark_routed_statement,
                };
                let seqs: Vec<i64> = routed.iter().map(|r| r.seq).collect();
                let mut tx = self.begin_write().await?;
                // Case keys: the aliases the batch's ids already have, then
                // each event in order (events of one batch join each other).
                let mut ids: Vec<&str> = routed
                    .iter()
                    .flat_map(|r| r.case_ids.iter().map(String::as_str))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let mut known = std::collections::HashMap::new();
                for chunk in ids.chunks(DELIVERY_CHUNK) {
                    let rows: Vec<(String, String)> = known_aliases_statement::<$db>(chunk)
                        .build_query_as()
                        .fetch_all(&mut *tx)
                        .await?;
                    known.extend(rows);
                }
                let case_ids: Vec<&[String]> = routed.iter().map(|r| r.case_ids.as_slice()).collect();
                let (keys, added) = $crate::store::cases::resolve_case_keys(&case_ids, &mut known);
                for chunk in added.chunks(DELIVERY_CHUNK) {
                    aliases_statement::<$db>(chunk).build().execute(&mut *tx).await?;
                }
                let members: Vec<(&str, i64)> = routed
                    .iter()
                    .zip(&keys)
                    .filter_map(|(r, key)| Some((key.as_deref()?, r.seq)))
                    .collect();
                for chunk in members.chunks(DELIVERY_CHUNK) {
                    case_events_statement::<$db>(chunk).build().execute(&mut *tx).await?;
                }
                let rows: Vec<(i64, Option<&str>, &$crate::store::NewDelivery)> = routed
                    .iter()
                    .zip(&keys)
                    .flat_map(|(r, key)| {
                        r.deliveries.iter().map(move |d| {
                            (r.seq, d.group.as_deref().or(key.as_deref()), d)
                        })
                    })
                    .collect();
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

/// Rows of deliveries per INSERT statement (8 bound parameters each).
pub const DELIVERY_CHUNK: usize = 256;

/// The multi-row INSERT of deliveries (each with its case key), skipping
/// those already written. A silenced one is stored as `silenced`.
pub fn deliveries_statement<'a, DB>(
    rows: &'a [(i64, Option<&'a str>, &'a NewDelivery)],
    routed_at_ms: i64,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    Option<String>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "INSERT INTO deliveries (event_seq, receiver, route, created_at_ms, case_key, status, next_attempt_at_ms, last_error) ",
    );
    query.push_values(rows.iter(), |mut row, (seq, case_key, delivery)| {
        let (status, note) = match delivery.silenced_by {
            Some(id) => ("silenced", Some(format!("silenced by silence {id}"))),
            None => ("pending", None),
        };
        row.push_bind(*seq)
            .push_bind(delivery.receiver.as_str())
            .push_bind(delivery.route.as_str())
            .push_bind(routed_at_ms)
            .push_bind(*case_key)
            .push_bind(status)
            .push_bind(delivery.not_before_ms)
            .push_bind(note);
    });
    query.push(" ON CONFLICT (event_seq, receiver) DO NOTHING");
    query
}

/// The SELECT of the case keys some object ids already have.
pub fn known_aliases_statement<'a, DB>(ids: &'a [&'a str]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut query =
        QueryBuilder::new("SELECT object_id, case_key FROM case_aliases WHERE object_id IN (");
    let mut separated = query.separated(", ");
    for id in ids {
        separated.push_bind(*id);
    }
    query.push(")");
    query
}

/// The multi-row INSERT of new aliases (a replica that wrote one first keeps it).
pub fn aliases_statement<'a, DB>(rows: &'a [(String, String)]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("INSERT INTO case_aliases (object_id, case_key) ");
    query.push_values(rows.iter(), |mut row, (id, key)| {
        row.push_bind(id.as_str()).push_bind(key.as_str());
    });
    query.push(" ON CONFLICT (object_id) DO NOTHING");
    query
}

/// The multi-row INSERT of events into their cases.
pub fn case_events_statement<'a, DB>(rows: &'a [(&'a str, i64)]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new("INSERT INTO case_events (case_key, event_seq) ");
    query.push_values(rows.iter(), |mut row, (key, seq)| {
        row.push_bind(*key).push_bind(*seq);
    });
    query.push(" ON CONFLICT (case_key, event_seq) DO NOTHING");
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
