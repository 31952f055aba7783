//! Button tokens and the audit log.
//!
//! A token is created for each button of a card when the card is sent, and
//! maps to the action, the delivery (so the event and its message) and an
//! expiry. A click runs the action only after it set the token's
//! `used_at_ms` in one conditional UPDATE, so a double click, a platform's
//! retry or two replicas can run it once at most. The audit log is
//! append-only: the database refuses updates and deletes.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// A token about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The opaque token the button carries.
    pub token: String,
    /// The action name.
    pub action: String,
    /// The button's label (an `assign` button whose label ends in `…` opens the picker).
    pub label: String,
    /// The delivery whose message carries the button.
    pub delivery_id: i64,
    /// The event.
    pub event_seq: i64,
    /// The receiver.
    pub receiver: String,
    /// The Stripe object the action is about.
    pub object_id: Option<String>,
    /// When it was made, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it stops working, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionToken {
    /// What was stored.
    pub token: NewToken,
    /// When a click ran it.
    pub used_at_ms: Option<i64>,
    /// Who ran it (`slack:U123`).
    pub used_by: Option<String>,
    /// The first approver, when two are needed.
    pub approved_by: Option<String>,
    /// Why it no longer acts: its case moved on (the notice a click answers).
    pub revoked_notice: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `slack`, `discord` or `telegram`.
    pub platform: String,
    /// The platform's user id.
    pub user_id: String,
    /// The action name.
    pub action: String,
    /// The event.
    pub event_id: Option<String>,
    /// The Stripe object.
    pub object_id: Option<String>,
    /// `done`, `failed`, `denied`, `refused` or `approval_pending`.
    pub outcome: String,
    /// Words: what Stripe said, why it was refused.
    pub detail: Option<String>,
    /// Stripe's `Request-Id`.
    pub stripe_request_id: Option<String>,
}

/// The interaction operations of a store.
#[async_trait]
pub trait Interactions: Send + Sync {
    /// Stores the tokens of a card's buttons.
    async fn create_tokens(&self, tokens: &[NewToken]) -> Result<(), StoreError>;

    /// One token.
    async fn token(&self, token: &str) -> Result<Option<ActionToken>, StoreError>;

    /// Marks a token used by `user` if it is unused and unexpired; true when this call did it.
    async fn claim_token(&self, token: &str, user: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Records the first approval of a token; true when this call did it.
    async fn approve_token(&self, token: &str, user: &str) -> Result<bool, StoreError>;

    /// The unused tokens of a delivery's buttons: (action, token).
    async fn open_tokens(&self, delivery_id: i64) -> Result<Vec<(String, String)>, StoreError>;

    /// One event by its sequence number.
    async fn event_by_seq(&self, seq: i64) -> Result<Option<super::StoredEvent>, StoreError>;

    /// The message reference of a delivery, once sent.
    async fn delivery_message(&self, delivery_id: i64) -> Result<Option<String>, StoreError>;

    /// Subscribes a private chat to a topic; false when it already was.
    async fn subscribe(
        &self,
        topic: &str,
        chat_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Unsubscribes a chat from a topic; false when it was not subscribed.
    async fn unsubscribe(&self, topic: &str, chat_id: i64) -> Result<bool, StoreError>;

    /// The chats subscribed to a topic, oldest subscription first.
    async fn subscribers(&self, topic: &str) -> Result<Vec<i64>, StoreError>;

    /// The topics a chat is subscribed to.
    async fn subscriptions(&self, chat_id: i64) -> Result<Vec<String>, StoreError>;

    /// The subscribers a fanned-out delivery already reached (or gave up on).
    async fn fanout_done(&self, delivery_id: i64) -> Result<Vec<i64>, StoreError>;

    /// Records that a fanned-out delivery reached (or gave up on) one subscriber.
    async fn record_fanout(
        &self,
        delivery_id: i64,
        chat_id: i64,
        outcome: &str,
    ) -> Result<(), StoreError>;

    /// Appends to the audit log.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The audit log, newest first.
    async fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Implements [`Interactions`] for a backend with a sqlx pool in `pool`.
macro_rules! impl_interactions {
    ($store:ty) => {
        #[async_trait]
        impl $crate::store::interactions::Interactions for $store {
            async fn create_tokens(&self, tokens: &[NewToken]) -> Result<(), StoreError> {
                if tokens.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO action_tokens (token, action, label, delivery_id, event_seq, receiver, object_id, created_at_ms, expires_at_ms) ",
                );
                query.push_values(tokens, |mut row, t| {
                    row.push_bind(t.token.as_str())
                        .push_bind(t.action.as_str())
                        .push_bind(t.label.as_str())
                        .push_bind(t.delivery_id)
                        .push_bind(t.event_seq)
                        .push_bind(t.receiver.as_str())
                        .push_bind(t.object_id.as_deref())
                        .push_bind(t.created_at_ms)
                        .push_bind(t.expires_at_ms);
                });
                query
                    .build()
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("storing button tokens"))?;
                Ok(())
            }

            async fn token(&self, token: &str) -> Result<Option<ActionToken>, StoreError> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT token, action, label, delivery_id, event_seq, receiver, object_id, created_at_ms, expires_at_ms, used_at_ms, used_by, approved_by, revoked_notice
                     FROM action_tokens WHERE token = $1",
                )
                .bind(token)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a button token"))?;
                row.map(|row| {
                    Ok(ActionToken {
                        token: NewToken {
                            token: row.try_get("token")?,
                            action: row.try_get("action")?,
                            label: row.try_get("label")?,
                            delivery_id: row.try_get("delivery_id")?,
                            event_seq: row.try_get("event_seq")?,
                            receiver: row.try_get("receiver")?,
                            object_id: row.try_get("object_id")?,
                            created_at_ms: row.try_get("created_at_ms")?,
                            expires_at_ms: row.try_get("expires_at_ms")?,
                        },
                        used_at_ms: row.try_get("used_at_ms")?,
                        used_by: row.try_get("used_by")?,
                        approved_by: row.try_get("approved_by")?,
                        revoked_notice: row.try_get("revoked_notice")?,
                    })
                })
                .transpose()
                .map_err(StoreError::db("reading a button token"))
            }

            async fn claim_token(&self, token: &str, user: &str, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE action_tokens SET used_at_ms = $1, used_by = $2
                     WHERE token = $3 AND used_at_ms IS NULL AND expires_at_ms > $1 AND revoked_notice IS NULL",
                )
                .bind(now_ms)
                .bind(user)
                .bind(token)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("claiming a button token"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn approve_token(&self, token: &str, user: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE action_tokens SET approved_by = $1
                     WHERE token = $2 AND approved_by IS NULL AND used_at_ms IS NULL",
                )
                .bind(user)
                .bind(token)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("approving a button token"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn open_tokens(&self, delivery_id: i64) -> Result<Vec<(String, String)>, StoreError> {
                sqlx::query_as(
                    "SELECT action, token FROM action_tokens
                     WHERE delivery_id = $1 AND used_at_ms IS NULL AND revoked_notice IS NULL ORDER BY created_at_ms DESC, token",
                )
                .bind(delivery_id)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading a card's button tokens"))
            }

            async fn event_by_seq(&self, seq: i64) -> Result<Option<StoredEvent>, StoreError> {
                let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq = $1"))
                    .bind(seq)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::db("reading an event"))?;
                row.as_ref()
                    .map(StoredEvent::from_row)
                    .transpose()
                    .map_err(StoreError::db("reading an event"))
            }

            async fn delivery_message(&self, delivery_id: i64) -> Result<Option<String>, StoreError> {
                let found: Option<Option<String>> =
                    sqlx::query_scalar("SELECT message_ref FROM deliveries WHERE id = $1")
                        .bind(delivery_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::db("reading a delivery's message"))?;
                Ok(found.flatten())
            }

            async fn subscribe(&self, topic: &str, chat_id: i64, user_id: i64, now_ms: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO telegram_subscriptions (topic, chat_id, user_id, created_at_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (topic, chat_id) DO NOTHING",
                )
                .bind(topic)
                .bind(chat_id)
                .bind(user_id)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("subscribing a chat"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn unsubscribe(&self, topic: &str, chat_id: i64) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM telegram_subscriptions WHERE topic = $1 AND chat_id = $2")
                    .bind(topic)
                    .bind(chat_id)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::db("unsubscribing a chat"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn subscribers(&self, topic: &str) -> Result<Vec<i64>, StoreError> {
                sqlx::query_scalar("SELECT chat_id FROM telegram_subscriptions WHERE topic = $1 ORDER BY created_at_ms, chat_id")
                    .bind(topic)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("listing subscribers"))
            }

            async fn subscriptions(&self, chat_id: i64) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar("SELECT topic FROM telegram_subscriptions WHERE chat_id = $1 ORDER BY topic")
                    .bind(chat_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("listing a chat's subscriptions"))
            }

            async fn fanout_done(&self, delivery_id: i64) -> Result<Vec<i64>, StoreError> {
                sqlx::query_scalar("SELECT chat_id FROM fanout_sends WHERE delivery_id = $1")
                    .bind(delivery_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("reading a fan-out"))
            }

            async fn record_fanout(&self, delivery_id: i64, chat_id: i64, outcome: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO fanout_sends (delivery_id, chat_id, outcome) VALUES ($1, $2, $3)
                     ON CONFLICT (delivery_id, chat_id) DO NOTHING",
                )
                .bind(delivery_id)
                .bind(chat_id)
                .bind(outcome)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a fan-out send"))?;
                Ok(())
            }

            async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_log (at_ms, platform, user_id, action, event_id, object_id, outcome, detail, stripe_request_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(entry.at_ms)
                .bind(&entry.platform)
                .bind(&entry.user_id)
                .bind(&entry.action)
                .bind(&entry.event_id)
                .bind(&entry.object_id)
                .bind(&entry.outcome)
                .bind(&entry.detail)
                .bind(&entry.stripe_request_id)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("appending to the audit log"))?;
                Ok(())
            }

            async fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT at_ms, platform, user_id, action, event_id, object_id, outcome, detail, stripe_request_id
                     FROM audit_log ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading the audit log"))?;
                rows.iter()
                    .map(|row| {
                        Ok(AuditEntry {
                            at_ms: row.try_get("at_ms")?,
                            platform: row.try_get("platform")?,
                            user_id: row.try_get("user_id")?,
                            action: row.try_get("action")?,
                            event_id: row.try_get("event_id")?,
                            object_id: row.try_get("object_id")?,
                            outcome: row.try_get("outcome")?,
                            detail: row.try_get("detail")?,
                            stripe_request_id: row.try_get("stripe_request_id")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading the audit log"))
            }
        }
    };
}

pub(crate) use impl_interactions;
