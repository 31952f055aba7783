//! Cases and silences in the store.
//!
//! A case is one Stripe object's card on one receiver (see
//! `event::case`). The pipeline resolves each event's case key when it
//! routes it (in the routing transaction, through `case_aliases`); the
//! delivery worker keeps the `cases` row (where the card lives, which event
//! it shows, who acknowledged or resolved it) while it holds the receiver's
//! lease, so one receiver's case is only ever changed by one process.
//! Silences are rows too, so every replica honours the same ones.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Serialize;

use super::{StoreError, StoredEvent};
use crate::event::EventView;
use crate::event::case::{lacks_facts, merge_facts};

/// One case's card on one receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRow {
    /// The receiver.
    pub receiver: String,
    /// The case key: the id of the object the case is named after (`in_…`, `pi_…`).
    pub case_key: String,
    /// The state the card shows, e.g. `paid`.
    pub state: String,
    /// The head event's precedence: rank, attempt, `created`.
    pub head_rank: i64,
    /// The head invoice's attempt count.
    pub head_attempt: i64,
    /// The head event's `created`, Unix seconds.
    pub head_created: i64,
    /// The head event.
    pub head_event_seq: i64,
    /// The delivery whose buttons the card carries.
    pub head_delivery_id: i64,
    /// Where the card lives (JSON message reference), once posted.
    pub message_ref: Option<String>,
    /// Cards of this case posted before it was reopened (JSON list of references).
    pub earlier_refs: Vec<String>,
    /// Lines the card keeps through edits: what people did ("Acknowledged by …").
    pub notes: Vec<String>,
    /// A hash of the card as last sent, so that an unchanged card is not edited.
    pub card_hash: Option<String>,
    /// Who acknowledged it (`slack:U1`).
    pub acknowledged_by: Option<String>,
    /// When, Unix milliseconds.
    pub acknowledged_at_ms: Option<i64>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// When, Unix milliseconds.
    pub resolved_at_ms: Option<i64>,
    /// How many events it has had on this receiver.
    pub events: i64,
    /// When its card was first posted, Unix milliseconds.
    pub opened_at_ms: i64,
    /// When it last changed, Unix milliseconds.
    pub updated_at_ms: i64,
    /// Who it is assigned to (Take it, Assign…, a follow-up's hand-off).
    pub assignee: Option<String>,
    /// Since when it is abandoned: no payment after the last follow-up.
    pub abandoned_at_ms: Option<i64>,
}

/// One event of a case, for `cases show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseStep {
    /// The receiver.
    pub receiver: String,
    /// The event.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// Its `created`, Unix seconds.
    pub created: i64,
    /// The delivery's status.
    pub status: String,
    /// What it did to the card: `opened`, `advanced`, `reopened`, `kept`.
    pub change: Option<String>,
}

/// What a person did to a case from its card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseMark {
    /// A line on the card only.
    Note,
    /// Acknowledged by this user (`slack:U1`).
    Acknowledged(String),
    /// Resolved by this user.
    Resolved(String),
    /// Assigned to this person or queue (`@alice`, `billing-queue`).
    Assigned(String),
    /// Abandoned after the last follow-up, and handed to this person or
    /// queue (if any).
    Abandoned(Option<String>),
}

/// A silence about to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewSilence {
    /// `label=value` matchers, all of which must match.
    pub matchers: Vec<String>,
    /// Why.
    pub comment: String,
    /// Who (`cli:alice`, `slack:U1`).
    pub created_by: String,
    /// From, Unix milliseconds.
    pub starts_at_ms: i64,
    /// Until, Unix milliseconds.
    pub ends_at_ms: i64,
}

/// A stored silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    /// Its id, for `silences expire`.
    pub id: i64,
    /// What it is.
    #[serde(flatten)]
    pub silence: NewSilence,
    /// When it was expired by hand, Unix milliseconds.
    pub expired_at_ms: Option<i64>,
}

impl Silence {
    /// Whether it silences at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.expired_at_ms.is_none()
            && self.silence.starts_at_ms <= now_ms
            && now_ms < self.silence.ends_at_ms
    }
}

/// Assigns each routed event its case key: the key of the first of its ids
/// already known (`known`, from `case_aliases`), else its first id. Returns
/// the key per event (`None` without ids) and the aliases to add. Events of
/// one batch see each other's aliases, in order.
pub fn resolve_case_keys(
    events: &[&[String]],
    known: &mut HashMap<String, String>,
) -> (Vec<Option<String>>, Vec<(String, String)>) {
    let mut keys = Vec::with_capacity(events.len());
    let mut added = Vec::new();
    for ids in events {
        let Some(first) = ids.first() else {
            keys.push(None);
            continue;
        };
        let key = ids
            .iter()
            .find_map(|id| known.get(id).cloned())
            .unwrap_or_else(|| first.clone());
        for id in *ids {
            if !known.contains_key(id) {
                known.insert(id.clone(), key.clone());
                added.push((id.clone(), key.clone()));
            }
        }
        keys.push(Some(key));
    }
    (keys, added)
}

/// Fills in `head`'s missing facts (a failed payment's reason, the card
/// used) from the other events of its case, reading them only when it lacks
/// one; a group (`group:` key) has no object whose facts could be merged.
pub async fn merge_case_facts(
    store: &dyn Cases,
    case_key: &str,
    head: &mut EventView,
) -> Result<(), StoreError> {
    if case_key.starts_with("group:") || !lacks_facts(head) {
        return Ok(());
    }
    let others: Vec<EventView> = store
        .case_events(case_key, FACT_EVENTS)
        .await?
        .iter()
        .filter(|s| s.event.event_id != head.id)
        .filter_map(|s| s.view().ok())
        .collect();
    merge_facts(head, &others);
    Ok(())
}

/// Other events of a case read for the facts its card needs.
const FACT_EVENTS: u32 = 20;

/// The case and silence operations of a store.
#[async_trait]
pub trait Cases: Send + Sync {
    /// One case's card on one receiver.
    async fn case(&self, receiver: &str, case_key: &str) -> Result<Option<CaseRow>, StoreError>;

    /// Writes a case's card (insert or replace) and records what delivery
    /// `delivery_id` did to it, in one transaction.
    async fn save_case(
        &self,
        case: &CaseRow,
        delivery_id: i64,
        change: &str,
    ) -> Result<(), StoreError>;

    /// The case key an object id belongs to, once an event named it.
    async fn case_key_of(&self, object_id: &str) -> Result<Option<String>, StoreError>;

    /// The events of a case, whoever they were routed to, newest first (at most `limit`).
    async fn case_events(&self, case_key: &str, limit: u32)
    -> Result<Vec<StoredEvent>, StoreError>;

    /// Revokes the unused tokens of a case's earlier cards on a receiver
    /// (all its deliveries but `keep_delivery`): a click on one answers
    /// `notice` and does nothing. Returns how many were revoked.
    async fn revoke_case_tokens(
        &self,
        receiver: &str,
        case_key: &str,
        keep_delivery: i64,
        notice: &str,
    ) -> Result<u64, StoreError>;

    /// The case a delivery belongs to: (receiver, case key).
    async fn case_of_delivery(
        &self,
        delivery_id: i64,
    ) -> Result<Option<(String, String)>, StoreError>;

    /// Adds a line a case's card keeps (at most the last five), and records
    /// who acknowledged or resolved it.
    async fn note_case(
        &self,
        receiver: &str,
        case_key: &str,
        line: &str,
        mark: CaseMark,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Cases, most recently changed first; only unresolved ones when `open_only`.
    async fn list_cases(&self, open_only: bool, limit: u32) -> Result<Vec<CaseRow>, StoreError>;

    /// The events of a case on every receiver, in order, with what each did.
    async fn case_steps(&self, case_key: &str) -> Result<Vec<CaseStep>, StoreError>;

    /// Stores a silence; returns its id.
    async fn add_silence(&self, silence: &NewSilence) -> Result<i64, StoreError>;

    /// Silences, newest first: the active ones, or all of them.
    async fn silences(&self, all: bool, now_ms: i64) -> Result<Vec<Silence>, StoreError>;

    /// Ends a silence now; false when there is no such active silence.
    async fn expire_silence(&self, id: i64, now_ms: i64) -> Result<bool, StoreError>;

    /// How many deliveries a silence held back.
    async fn silenced_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Records that a case's card waits for Stripe's details since
    /// `since_ms`, or (`None`) that it no longer does.
    async fn await_stripe(
        &self,
        receiver: &str,
        case_key: &str,
        since_ms: Option<i64>,
    ) -> Result<(), StoreError>;

    /// The cases whose card waits for Stripe's details: (receiver, case
    /// key, since when), oldest first, at most `limit`.
    async fn awaiting_stripe(&self, limit: u32) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// Records the hash of a case's card as just edited (a countdown, an
    /// abandoned case), so that an unchanged card is not edited again.
    async fn set_card_hash(
        &self,
        receiver: &str,
        case_key: &str,
        card_hash: &str,
    ) -> Result<(), StoreError>;
}

/// Implements [`Cases`] for a backend with a sqlx pool in `pool`.
macro_rules! impl_cases {
    ($store:ty) => {
        #[async_trait]
        impl $crate::store::cases::Cases for $store {
            async fn case(&self, receiver: &str, case_key: &str) -> Result<Option<$crate::store::cases::CaseRow>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM cases WHERE receiver = $1 AND case_key = $2",
                    $crate::store::cases::CASE_COLUMNS
                ))
                .bind(receiver)
                .bind(case_key)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a case"))?;
                row.as_ref()
                    .map($crate::store::cases::case_from_row)
                    .transpose()
                    .map_err(StoreError::db("reading a case"))
            }

            async fn save_case(
                &self,
                case: &$crate::store::cases::CaseRow,
                delivery_id: i64,
                change: &str,
            ) -> Result<(), StoreError> {
                let earlier = serde_json::to_string(&case.earlier_refs).unwrap_or_else(|_| "[]".to_owned());
                let notes = serde_json::to_string(&case.notes).unwrap_or_else(|_| "[]".to_owned());
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    sqlx::query(
                        "INSERT INTO cases (receiver, case_key, state, head_rank, head_attempt, head_created, head_event_seq,
                             head_delivery_id, message_ref, earlier_refs, notes, events, opened_at_ms, updated_at_ms, card_hash)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                         ON CONFLICT (receiver, case_key) DO UPDATE SET state = excluded.state,
                             head_rank = excluded.head_rank, head_attempt = excluded.head_attempt,
                             head_created = excluded.head_created, head_event_seq = excluded.head_event_seq,
                             head_delivery_id = excluded.head_delivery_id, message_ref = excluded.message_ref,
                             earlier_refs = excluded.earlier_refs, events = excluded.events,
                             updated_at_ms = excluded.updated_at_ms, card_hash = excluded.card_hash",
                    )
                    .bind(&case.receiver)
                    .bind(&case.case_key)
                    .bind(&case.state)
                    .bind(case.head_rank)
                    .bind(case.head_attempt)
                    .bind(case.head_created)
                    .bind(case.head_event_seq)
                    .bind(case.head_delivery_id)
                    .bind(&case.message_ref)
                    .bind(&earlier)
                    .bind(&notes)
                    .bind(case.events)
                    .bind(case.opened_at_ms)
                    .bind(case.updated_at_ms)
                    .bind(&case.card_hash)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE deliveries SET case_change = $1 WHERE id = $2")
                        .bind(change)
                        .bind(delivery_id)
                        .execute(&mut *tx)
                        .await?;
                    Ok(())
                })
                .await
                .map_err(StoreError::db("saving a case"))
            }

            async fn case_key_of(&self, object_id: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT case_key FROM case_aliases WHERE object_id = $1")
                    .bind(object_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::db("reading a case alias"))
            }

            async fn case_events(&self, case_key: &str, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
                let columns = $crate::store::event_columns_of("e");
                let rows = sqlx::query(&format!(
                    "SELECT {columns} FROM case_events c JOIN events e ON e.seq = c.event_seq
                     WHERE c.case_key = $1 ORDER BY e.seq DESC LIMIT $2"
                ))
                .bind(case_key)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a case's events"))?;
                rows.iter()
                    .map(StoredEvent::from_row)
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::db("reading a case's events"))
            }

            async fn revoke_case_tokens(
                &self,
                receiver: &str,
                case_key: &str,
                keep_delivery: i64,
                notice: &str,
            ) -> Result<u64, StoreError> {
                let done = $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    sqlx::query(
                        "UPDATE action_tokens SET revoked_notice = $1
                         WHERE receiver = $2 AND delivery_id <> $3 AND used_at_ms IS NULL AND revoked_notice IS NULL
                           AND delivery_id IN (SELECT id FROM deliveries WHERE receiver = $2 AND case_key = $4)",
                    )
                    .bind(notice)
                    .bind(receiver)
                    .bind(keep_delivery)
                    .bind(case_key)
                    .execute(&mut *tx)
                    .await
                })
                .await
                .map_err(StoreError::db("revoking a case's buttons"))?;
                Ok(done.rows_affected())
            }

            async fn case_of_delivery(&self, delivery_id: i64) -> Result<Option<(String, String)>, StoreError> {
                let row: Option<(String, Option<String>)> = sqlx::query_as(
                    "SELECT receiver, case_key FROM deliveries WHERE id = $1",
                )
                .bind(delivery_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a delivery's case"))?;
                Ok(row.and_then(|(receiver, key)| Some((receiver, key?))))
            }

            async fn note_case(
                &self,
                receiver: &str,
                case_key: &str,
                line: &str,
                mark: $crate::store::cases::CaseMark,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                use $crate::store::cases::CaseMark;
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    let notes: Option<String> = sqlx::query_scalar(
                        "SELECT notes FROM cases WHERE receiver = $1 AND case_key = $2",
                    )
                    .bind(receiver)
                    .bind(case_key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(notes) = notes else { return Ok(()) };
                    let mut notes: Vec<String> = serde_json::from_str(&notes).unwrap_or_default();
                    notes.push(line.to_owned());
                    let excess = notes.len().saturating_sub($crate::store::cases::MAX_NOTES);
                    notes.drain(..excess);
                    let notes = serde_json::to_string(&notes).unwrap_or_else(|_| "[]".to_owned());
                    let (set, by) = match &mark {
                        CaseMark::Note => ("", None),
                        CaseMark::Acknowledged(by) => (", acknowledged_by = $4, acknowledged_at_ms = $5", Some(by)),
                        CaseMark::Resolved(by) => (", resolved_by = $4, resolved_at_ms = $5", Some(by)),
                        CaseMark::Assigned(to) => (", assignee = $4", Some(to)),
                        CaseMark::Abandoned(Some(to)) => (", assignee = $4, abandoned_at_ms = $5", Some(to)),
                        CaseMark::Abandoned(None) => (", abandoned_at_ms = $5", None),
                    };
                    sqlx::query(&format!(
                        "UPDATE cases SET notes = $1, updated_at_ms = $5{set} WHERE receiver = $2 AND case_key = $3"
                    ))
                    .bind(notes)
                    .bind(receiver)
                    .bind(case_key)
                    .bind(by.cloned().unwrap_or_default())
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    Ok(())
                })
                .await
                .map_err(StoreError::db("noting a case"))
            }

            async fn list_cases(&self, open_only: bool, limit: u32) -> Result<Vec<$crate::store::cases::CaseRow>, StoreError> {
                let filter = if open_only { "WHERE resolved_at_ms IS NULL" } else { "" };
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM cases {filter} ORDER BY updated_at_ms DESC, case_key LIMIT $1",
                    $crate::store::cases::CASE_COLUMNS
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing cases"))?;
                rows.iter()
                    .map($crate::store::cases::case_from_row)
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::db("reading cases"))
            }

            async fn case_steps(&self, case_key: &str) -> Result<Vec<$crate::store::cases::CaseStep>, StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT d.receiver, e.event_id, e.event_type, e.created, d.status, d.case_change
                     FROM deliveries d JOIN events e ON e.seq = d.event_seq
                     WHERE d.case_key = $1 ORDER BY d.id",
                )
                .bind(case_key)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a case's history"))?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::store::cases::CaseStep {
                            receiver: row.try_get("receiver")?,
                            event_id: row.try_get("event_id")?,
                            event_type: row.try_get("event_type")?,
                            created: row.try_get("created")?,
                            status: row.try_get("status")?,
                            change: row.try_get("case_change")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading a case's history"))
            }

            async fn add_silence(&self, silence: &$crate::store::cases::NewSilence) -> Result<i64, StoreError> {
                let matchers = serde_json::to_string(&silence.matchers).unwrap_or_else(|_| "[]".to_owned());
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    sqlx::query_scalar(
                        "INSERT INTO silences (matchers, comment, created_by, starts_at_ms, ends_at_ms)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(&matchers)
                    .bind(&silence.comment)
                    .bind(&silence.created_by)
                    .bind(silence.starts_at_ms)
                    .bind(silence.ends_at_ms)
                    .fetch_one(&mut *tx)
                    .await
                })
                .await
                .map_err(StoreError::db("adding a silence"))
            }

            async fn silences(&self, all: bool, now_ms: i64) -> Result<Vec<$crate::store::cases::Silence>, StoreError> {
                use sqlx::Row;
                let filter = if all {
                    "WHERE $1 = $1"
                } else {
                    "WHERE expired_at_ms IS NULL AND ends_at_ms > $1"
                };
                let rows = sqlx::query(&format!(
                    "SELECT id, matchers, comment, created_by, starts_at_ms, ends_at_ms, expired_at_ms
                     FROM silences {filter} ORDER BY id DESC"
                ))
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing silences"))?;
                rows.iter()
                    .map(|row| {
                        let matchers: String = row.try_get("matchers")?;
                        Ok($crate::store::cases::Silence {
                            id: row.try_get("id")?,
                            silence: $crate::store::cases::NewSilence {
                                matchers: serde_json::from_str(&matchers).unwrap_or_default(),
                                comment: row.try_get("comment")?,
                                created_by: row.try_get("created_by")?,
                                starts_at_ms: row.try_get("starts_at_ms")?,
                                ends_at_ms: row.try_get("ends_at_ms")?,
                            },
                            expired_at_ms: row.try_get("expired_at_ms")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading silences"))
            }

            async fn expire_silence(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
                // A write transaction from its start: SQLite never has to
                // upgrade a read snapshot (which fails at once when stale).
                let done = $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    sqlx::query(
                        "UPDATE silences SET expired_at_ms = $1 WHERE id = $2 AND expired_at_ms IS NULL AND ends_at_ms > $1",
                    )
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                })
                .await
                .map_err(StoreError::db("expiring a silence"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn await_stripe(
                &self,
                receiver: &str,
                case_key: &str,
                since_ms: Option<i64>,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE cases SET awaiting_stripe_ms = $1 WHERE receiver = $2 AND case_key = $3")
                    .bind(since_ms)
                    .bind(receiver)
                    .bind(case_key)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("marking a case's card as waiting for Stripe"))?;
                Ok(())
            }

            async fn set_card_hash(
                &self,
                receiver: &str,
                case_key: &str,
                card_hash: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE cases SET card_hash = $1 WHERE receiver = $2 AND case_key = $3")
                    .bind(card_hash)
                    .bind(receiver)
                    .bind(case_key)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("recording a card's hash"))?;
                Ok(())
            }

            async fn awaiting_stripe(&self, limit: u32) -> Result<Vec<(String, String, i64)>, StoreError> {
                sqlx::query_as(
                    "SELECT receiver, case_key, awaiting_stripe_ms FROM cases
                     WHERE awaiting_stripe_ms IS NOT NULL ORDER BY awaiting_stripe_ms LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing cards waiting for Stripe"))
            }

            async fn silenced_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT receiver, COUNT(*) FROM deliveries WHERE status = 'silenced' GROUP BY receiver ORDER BY receiver",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("counting silenced deliveries"))?;
                Ok(rows
                    .into_iter()
                    .map(|(receiver, count)| (receiver, count.try_into().unwrap_or(0)))
                    .collect())
            }
        }
    };
}

pub(crate) use impl_cases;

/// Lines a case's card keeps.
pub const MAX_NOTES: usize = 5;

/// The columns [`case_from_row`] reads.
pub const CASE_COLUMNS: &str = "receiver, case_key, state, head_rank, head_attempt, head_created, head_event_seq, head_delivery_id, message_ref, earlier_refs, notes, card_hash, acknowledged_by, acknowledged_at_ms, resolved_by, resolved_at_ms, events, opened_at_ms, updated_at_ms, assignee, abandoned_at_ms";

/// Reads a `cases` row of either backend.
pub fn case_from_row<R>(row: &R) -> Result<CaseRow, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let list = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let text: String = row.try_get(column)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    Ok(CaseRow {
        receiver: row.try_get("receiver")?,
        case_key: row.try_get("case_key")?,
        state: row.try_get("state")?,
        head_rank: row.try_get("head_rank")?,
        head_attempt: row.try_get("head_attempt")?,
        head_created: row.try_get("head_created")?,
        head_event_seq: row.try_get("head_event_seq")?,
        head_delivery_id: row.try_get("head_delivery_id")?,
        message_ref: row.try_get("message_ref")?,
        earlier_refs: list("earlier_refs")?,
        notes: list("notes")?,
        card_hash: row.try_get("card_hash")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        acknowledged_at_ms: row.try_get("acknowledged_at_ms")?,
        resolved_by: row.try_get("resolved_by")?,
        resolved_at_ms: row.try_get("resolved_at_ms")?,
        events: row.try_get("events")?,
        opened_at_ms: row.try_get("opened_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        assignee: row.try_get("assignee")?,
        abandoned_at_ms: row.try_get("abandoned_at_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_ids_join_one_case_in_any_order() {
        let charge = vec!["pi_1".to_owned(), "ch_1".to_owned()];
        let invoice = vec!["in_1".to_owned(), "pi_1".to_owned()];
        let dispute = vec!["dp_1".to_owned(), "ch_1".to_owned()];
        let mut known = HashMap::new();
        let (keys, added) = resolve_case_keys(&[&charge, &invoice, &dispute, &[]], &mut known);
        assert_eq!(
            keys,
            [
                Some("pi_1".to_owned()),
                Some("pi_1".to_owned()),
                Some("pi_1".to_owned()),
                None
            ]
        );
        assert_eq!(added.len(), 4);
        let (keys, added) = resolve_case_keys(&[&invoice], &mut known);
        assert_eq!(keys, [Some("pi_1".to_owned())]);
        assert!(added.is_empty());
    }
}
