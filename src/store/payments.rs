//! Payment requests from chat, in the store: what was asked, by whom, for
//! which receiver's channel, and where its links stand.
//!
//! A request's id comes from the platform's own id of the command (Slack's
//! `trigger_id` or the form's view id, Discord's interaction id, Telegram's
//! chat and message), so a double submit or a platform's retry finds the
//! same row and makes no second link. A link is made under a claim (a
//! conditional UPDATE to `creating`), so two presses of "Create link" or
//! "New link", or two replicas, ask Stripe once; a claim left by a process
//! that died is taken over after [`CLAIM_TIMEOUT_MS`].

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// How long a link's claim holds before another attempt may take it over.
pub const CLAIM_TIMEOUT_MS: i64 = 60_000;

/// One payment request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRequest {
    /// `req_…`.
    pub request_id: String,
    /// `slack`, `discord` or `telegram`.
    pub platform: String,
    /// Who asked, as the audit log names people (`slack:U123`).
    pub asker: String,
    /// How cards name them (`@alice`).
    pub asker_name: String,
    /// The receiver whose channel has the card.
    pub receiver: String,
    /// The Stripe account (`default` or `[stripe.accounts.NAME]`).
    pub account: String,
    /// The amount in the currency's minor units.
    pub amount_minor: i64,
    /// Lower-case ISO code, as Stripe takes it.
    pub currency: String,
    /// What it is for (the line item's name).
    pub description: String,
    /// `cus_…` or an e-mail address, when given.
    pub customer: Option<String>,
    /// How long each link stays payable, in seconds.
    pub ttl_secs: i64,
    /// `pending`, `creating`, `open`, `paid`, `expired`, `payment_failed`,
    /// `failed` or `cancelled`.
    pub status: String,
    /// How many links were made.
    pub links: i64,
    /// The newest link's Checkout Session.
    pub session_id: Option<String>,
    /// The newest link.
    pub url: Option<String>,
    /// The last outcome in words (Stripe's refusal, "paid", …).
    pub outcome: Option<String>,
    /// When it was asked, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it last changed.
    pub updated_at_ms: i64,
}

/// The columns of a `payment_requests` row, in [`request_from_row`]'s order.
pub const REQUEST_COLUMNS: &str = "request_id, platform, asker, asker_name, receiver, account, amount_minor, currency, description, customer, ttl_secs, status, links, session_id, url, outcome, created_at_ms, updated_at_ms";

/// Reads a `payment_requests` row of either backend.
pub fn request_from_row<R>(row: &R) -> Result<PaymentRequest, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(PaymentRequest {
        request_id: row.try_get("request_id")?,
        platform: row.try_get("platform")?,
        asker: row.try_get("asker")?,
        asker_name: row.try_get("asker_name")?,
        receiver: row.try_get("receiver")?,
        account: row.try_get("account")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        description: row.try_get("description")?,
        customer: row.try_get("customer")?,
        ttl_secs: row.try_get("ttl_secs")?,
        status: row.try_get("status")?,
        links: row.try_get("links")?,
        session_id: row.try_get("session_id")?,
        url: row.try_get("url")?,
        outcome: row.try_get("outcome")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

/// The store's side of payment requests.
#[async_trait]
pub trait Payments {
    /// Records a request, unless one with its id exists; returns the stored
    /// row and whether it is new.
    async fn open_request(
        &self,
        request: &PaymentRequest,
    ) -> Result<(PaymentRequest, bool), StoreError>;

    /// One request.
    async fn payment_request(&self, request_id: &str)
    -> Result<Option<PaymentRequest>, StoreError>;

    /// The newest requests, newest first.
    async fn payment_requests(&self, limit: u32) -> Result<Vec<PaymentRequest>, StoreError>;

    /// Claims the making of link `link` (1 for the first): true when this
    /// caller may ask Stripe. The request must have `link - 1` links and be
    /// waiting (`pending`, `failed`, `expired`, `payment_failed`), or be
    /// stuck in `creating` for longer than [`CLAIM_TIMEOUT_MS`].
    async fn claim_link(
        &self,
        request_id: &str,
        link: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Link `link` exists: the request is open with its session and URL.
    async fn link_created(
        &self,
        request_id: &str,
        link: i64,
        session_id: &str,
        url: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Stripe refused a link: the request waits for another try, with `why`.
    async fn link_failed(&self, request_id: &str, why: &str, now_ms: i64)
    -> Result<(), StoreError>;

    /// A Stripe event told how link `link` ended (`paid`, `expired`,
    /// `payment_failed`, `processing`); only the newest link's outcome
    /// counts, and a paid request stays paid. True when it changed.
    async fn settle_request(
        &self,
        request_id: &str,
        link: i64,
        status: &str,
        outcome: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// The asker cancelled a pending request; true when it was pending and theirs.
    async fn cancel_request(
        &self,
        request_id: &str,
        asker: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// Implements [`Payments`] for a backend with a sqlx pool in `pool`.
macro_rules! impl_payments {
    ($store:ty) => {
        #[async_trait]
        impl $crate::store::payments::Payments for $store {
            async fn open_request(
                &self,
                request: &$crate::store::payments::PaymentRequest,
            ) -> Result<($crate::store::payments::PaymentRequest, bool), StoreError> {
                let new = sqlx::query(
                    "INSERT INTO payment_requests (request_id, platform, asker, asker_name, receiver, account, amount_minor, currency,
                         description, customer, ttl_secs, status, links, created_at_ms, updated_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13)
                     ON CONFLICT (request_id) DO NOTHING",
                )
                .bind(&request.request_id)
                .bind(&request.platform)
                .bind(&request.asker)
                .bind(&request.asker_name)
                .bind(&request.receiver)
                .bind(&request.account)
                .bind(request.amount_minor)
                .bind(&request.currency)
                .bind(&request.description)
                .bind(&request.customer)
                .bind(request.ttl_secs)
                .bind(&request.status)
                .bind(request.created_at_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a payment request"))?
                .rows_affected()
                    == 1;
                let stored = self
                    .payment_request(&request.request_id)
                    .await?
                    .ok_or(StoreError::Database {
                        operation: "reading a payment request just recorded",
                        source: sqlx::Error::RowNotFound,
                    })?;
                Ok((stored, new))
            }

            async fn payment_request(
                &self,
                request_id: &str,
            ) -> Result<Option<$crate::store::payments::PaymentRequest>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM payment_requests WHERE request_id = $1",
                    $crate::store::payments::REQUEST_COLUMNS
                ))
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading a payment request"))?;
                row.as_ref()
                    .map($crate::store::payments::request_from_row)
                    .transpose()
                    .map_err(StoreError::db("reading a payment request"))
            }

            async fn payment_requests(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::store::payments::PaymentRequest>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM payment_requests ORDER BY created_at_ms DESC, request_id LIMIT $1",
                    $crate::store::payments::REQUEST_COLUMNS
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading payment requests"))?;
                rows.iter()
                    .map($crate::store::payments::request_from_row)
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::db("reading payment requests"))
            }

            async fn claim_link(
                &self,
                request_id: &str,
                link: i64,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let claimed = sqlx::query(
                    "UPDATE payment_requests SET status = 'creating', updated_at_ms = $3
                     WHERE request_id = $1 AND links = $2 - 1
                       AND (status IN ('pending', 'failed', 'expired', 'payment_failed')
                            OR (status = 'creating' AND updated_at_ms < $4))",
                )
                .bind(request_id)
                .bind(link)
                .bind(now_ms)
                .bind(now_ms - $crate::store::payments::CLAIM_TIMEOUT_MS)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("claiming a payment link"))?
                .rows_affected();
                Ok(claimed == 1)
            }

            async fn link_created(
                &self,
                request_id: &str,
                link: i64,
                session_id: &str,
                url: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE payment_requests SET status = 'open', links = $2, session_id = $3, url = $4,
                         outcome = NULL, updated_at_ms = $5
                     WHERE request_id = $1",
                )
                .bind(request_id)
                .bind(link)
                .bind(session_id)
                .bind(url)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a payment link"))?;
                Ok(())
            }

            async fn link_failed(
                &self,
                request_id: &str,
                why: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE payment_requests SET status = 'failed', outcome = $2, updated_at_ms = $3
                     WHERE request_id = $1 AND status = 'creating'",
                )
                .bind(request_id)
                .bind(why)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("recording a refused payment link"))?;
                Ok(())
            }

            async fn settle_request(
                &self,
                request_id: &str,
                link: i64,
                status: &str,
                outcome: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let changed = sqlx::query(
                    "UPDATE payment_requests SET status = $2, outcome = $3, updated_at_ms = $4
                     WHERE request_id = $1 AND links = $5 AND status NOT IN ('paid', 'creating') AND status <> $2",
                )
                .bind(request_id)
                .bind(status)
                .bind(outcome)
                .bind(now_ms)
                .bind(link)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("settling a payment request"))?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn cancel_request(
                &self,
                request_id: &str,
                asker: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let cancelled = sqlx::query(
                    "UPDATE payment_requests SET status = 'cancelled', outcome = 'cancelled by the asker', updated_at_ms = $3
                     WHERE request_id = $1 AND asker = $2 AND status IN ('pending', 'failed')",
                )
                .bind(request_id)
                .bind(asker)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("cancelling a payment request"))?
                .rows_affected();
                Ok(cancelled == 1)
            }
        }
    };
}

pub(crate) use impl_payments;
