//! Scheduled jobs and the numbers of a summary, in the store.
//!
//! A job is a piece of work due at a time: a dispute reminder, a countdown
//! edit, a follow-up of unpaid money, an escalation, a summary. It runs
//! under the lease of the receiver it posts to (the delivery worker's), and
//! is claimed with a lease of its own by a conditional update, so that two
//! replicas run it once and a job whose runner died runs again when its
//! lease ends. `job_key` is unique: scheduling a job twice (two replicas, a
//! restart, the same event twice) is a no-op. Finished and cancelled jobs
//! stay, with their outcome, for `stripe-chatops schedule list --all`.
//!
//! A summary's numbers are computed here in SQL over the events' JSON
//! (`json_extract` on SQLite, `jsonb` on PostgreSQL), over the events'
//! `created` index, grouped by case (through `case_aliases`) so that one
//! payment told by three events (`charge.succeeded`,
//! `payment_intent.succeeded`, `invoice.paid`) counts once.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A reminder of a dispute's evidence deadline, in the case's thread.
    DisputeReminder,
    /// An edit of a dispute's card, so that its countdown stays true.
    Countdown,
    /// A follow-up of unpaid money; the last one abandons the case.
    UnpaidReminder,
    /// A critical card nobody acknowledged, posted again to someone else.
    Escalate,
    /// A summary of a period, with its chart.
    Summary,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::DisputeReminder,
        Self::Countdown,
        Self::UnpaidReminder,
        Self::Escalate,
        Self::Summary,
    ];

    /// The name stored in `jobs.kind`.
    pub fn name(self) -> &'static str {
        match self {
            Self::DisputeReminder => "dispute_reminder",
            Self::Countdown => "countdown",
            Self::UnpaidReminder => "unpaid_reminder",
            Self::Escalate => "escalate",
            Self::Summary => "summary",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A job about to be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewJob {
    /// Unique: the same key scheduled twice is one job.
    pub job_key: String,
    /// What it does.
    pub kind: JobKind,
    /// The receiver it posts to; it runs under that receiver's lease.
    pub receiver: String,
    /// The receiver of the case it is about (an escalation posts elsewhere).
    pub case_receiver: Option<String>,
    /// The case it is about.
    pub case_key: Option<String>,
    /// Which reminder of a series (0-based), or which `[[summaries]]` entry.
    pub step: i64,
    /// What it is, for people (`72h before the deadline`).
    pub detail: String,
    /// When it is due, Unix milliseconds.
    pub due_at_ms: i64,
}

impl NewJob {
    /// A job about a case on `receiver`, told apart from the case's other
    /// jobs of its kind by `which` (its key is made of all four).
    pub fn for_case(
        kind: JobKind,
        receiver: &str,
        case_key: &str,
        which: impl std::fmt::Display,
        due_at_ms: i64,
    ) -> Self {
        Self {
            job_key: format!("{}:{receiver}:{case_key}:{which}", kind.name()),
            kind,
            receiver: receiver.to_owned(),
            case_receiver: Some(receiver.to_owned()),
            case_key: Some(case_key.to_owned()),
            step: 0,
            detail: String::new(),
            due_at_ms,
        }
    }

    /// Which of a series it is (0-based).
    pub fn step(mut self, step: usize) -> Self {
        self.step = i64::try_from(step).unwrap_or(i64::MAX);
        self
    }

    /// What it is, for people.
    pub fn detail(mut self, detail: String) -> Self {
        self.detail = detail;
        self
    }

    /// Posted to another receiver than the case's (an escalation).
    pub fn posted_to(mut self, receiver: &str) -> Self {
        self.receiver = receiver.to_owned();
        self
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// What it is.
    #[serde(flatten)]
    pub job: NewJob,
    /// `pending`, `running`, `done`, `cancelled` or `failed`.
    pub status: String,
    /// Runs started.
    pub attempts: i64,
    /// When it was scheduled, Unix milliseconds.
    pub created_at_ms: i64,
    /// When it finished or was cancelled.
    pub finished_at_ms: Option<i64>,
    /// What happened (`sent`, `sent 3 h late`, `cancelled: paid`).
    pub outcome: Option<String>,
}

/// Which money a summary line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Payments received: one per payment case, its largest amount paid.
    Received,
    /// Failed payments: one per payment case.
    Failed,
    /// Payments received in the period after a failure of the same case.
    Recovered,
    /// Refunds: one per refunded charge, its amount refunded.
    Refunded,
    /// Disputes opened.
    DisputesOpened,
    /// Disputes closed as won.
    DisputesWon,
    /// Disputes closed as lost.
    DisputesLost,
}

/// Events of a successful payment.
const PAID_TYPES: &[&str] = &[
    "charge.succeeded",
    "payment_intent.succeeded",
    "invoice.paid",
    "invoice.payment_succeeded",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
];

/// Events of a failed payment.
const FAILED_TYPES: &[&str] = &[
    "charge.failed",
    "payment_intent.payment_failed",
    "invoice.payment_failed",
    "checkout.session.async_payment_failed",
];

impl Measure {
    /// Every measure, in the order a summary shows them.
    pub const ALL: [Self; 7] = [
        Self::Received,
        Self::Failed,
        Self::Recovered,
        Self::Refunded,
        Self::DisputesOpened,
        Self::DisputesWon,
        Self::DisputesLost,
    ];

    /// The event types it counts.
    fn types(self) -> &'static [&'static str] {
        match self {
            Self::Received | Self::Recovered => PAID_TYPES,
            Self::Failed => FAILED_TYPES,
            Self::Refunded => &["charge.refunded"],
            Self::DisputesOpened => &["charge.dispute.created"],
            Self::DisputesWon | Self::DisputesLost => &["charge.dispute.closed"],
        }
    }

    /// The amount fields it reads, first present wins.
    fn amount_fields(self) -> &'static [&'static str] {
        match self {
            Self::Received | Self::Recovered => {
                &["amount_paid", "amount_received", "amount_total", "amount"]
            }
            Self::Failed => &["amount_due", "amount"],
            Self::Refunded => &["amount_refunded"],
            _ => &["amount"],
        }
    }
}

/// One line of money: a count and a sum, per account, mode and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoneyLine {
    /// The account name.
    pub account: String,
    /// False for test mode.
    pub livemode: bool,
    /// ISO currency, lower case (`eur`).
    pub currency: String,
    /// How many (payments, refunds, disputes).
    pub count: i64,
    /// Their sum, in the currency's minor unit.
    pub amount: i64,
    /// With [`Jobs::summary_hourly`]: the hour, Unix seconds / 3600.
    pub hour: i64,
}

/// The SQL text of one JSON field of the object of the event aliased
/// `table`, as a number or text.
pub fn json_field(backend: &str, table: &str, field: &str, number: bool) -> String {
    if backend == "postgres" {
        let text = format!("(({table}.payload::jsonb) #>> '{{data,object,{field}}}')");
        if number {
            format!("({text})::bigint")
        } else {
            text
        }
    } else {
        format!("json_extract({table}.payload, '$.data.object.{field}')")
    }
}

/// How far back a failure counts for "recovered after failure": Stripe's
/// retries of a payment span at most about two months.
pub const RECOVERY_WINDOW_SECS: i64 = 62 * 86_400;

/// The query of a measure between `$1` and `$2` (Unix seconds, `created`):
/// one row per account, mode and currency (and hour, `by_hour`). An event
/// counts once per case: its object's id is looked up in `case_aliases`
/// (by primary key), which names the case of every id the pipeline saw.
pub fn measure_sql(backend: &str, measure: Measure, by_hour: bool) -> String {
    let list = |types: &[&str]| {
        types
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let json = |table: &str, field: &str, number: bool| json_field(backend, table, field, number);
    let amount = format!(
        "COALESCE({}, 0)",
        measure
            .amount_fields()
            .iter()
            .map(|f| json("e", f, true))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let currency = format!("LOWER(COALESCE({}, ''))", json("e", "currency", false));
    let case_of = |table: &str, alias: &str| {
        format!(
            "COALESCE({alias}.case_key, {}, {table}.event_id)",
            json(table, "id", false)
        )
    };
    let status = json("e", "status", false);
    let extra = match measure {
        Measure::DisputesWon => format!(" AND {status} = 'won'"),
        Measure::DisputesLost => format!(" AND {status} = 'lost'"),
        Measure::Recovered => format!(
            " AND {} IN (SELECT {} FROM events f LEFT JOIN case_aliases fa ON fa.object_id = {} \
               WHERE f.event_type IN ({}) AND f.created >= $1 - {RECOVERY_WINDOW_SECS} AND f.created < $2)",
            case_of("e", "ca"),
            case_of("f", "fa"),
            json("f", "id", false),
            list(FAILED_TYPES)
        ),
        _ => String::new(),
    };
    let (hour_in, hour_out) = if by_hour {
        ("MIN(e.created) / 3600", "hour")
    } else {
        ("CAST(0 AS BIGINT)", "CAST(0 AS BIGINT)")
    };
    let case = case_of("e", "ca");
    format!(
        "SELECT account, livemode, currency, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total, {hour_out} AS hour FROM (
           SELECT e.account AS account, e.livemode AS livemode, {currency} AS currency,
                  {case} AS case_id, MAX({amount}) AS amount, {hour_in} AS hour
           FROM events e LEFT JOIN case_aliases ca ON ca.object_id = {id}
           WHERE e.event_type IN ({types}) AND e.created >= $1 AND e.created < $2{extra}
           GROUP BY e.account, e.livemode, {currency}, {case}
         ) t GROUP BY account, livemode, currency{by} ORDER BY account, livemode, currency{by}",
        id = json("e", "id", false),
        types = list(measure.types()),
        by = if by_hour { ", hour" } else { "" },
    )
}

/// The states of a case that wait for a person, counted as open in a summary.
pub const OPEN_STATES: &[&str] = &[
    "payment_failed",
    "action_required",
    "disputed",
    "fraud_warning",
    "failed",
    "past_due",
];

/// The job operations of a store.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Schedules jobs; a job whose key exists already is left as it is.
    /// Returns how many are new.
    async fn schedule_jobs(&self, jobs: &[NewJob], now_ms: i64) -> Result<u64, StoreError>;

    /// Receivers with a job due at `now_ms` (pending, or running under a
    /// lease that ended).
    async fn due_job_receivers(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Claims up to `limit` of a receiver's due jobs for `owner` until
    /// `lease_until_ms`, oldest due first. A job another process claimed
    /// in between is skipped.
    async fn claim_jobs(
        &self,
        receiver: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;

    /// Ends a claimed job: `done`, `cancelled` or `failed`, with what
    /// happened. False if `owner` no longer holds it.
    async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        status: &str,
        outcome: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Puts a claimed job back, due again at `due_at_ms` (after a failure).
    async fn retry_job(
        &self,
        id: i64,
        owner: &str,
        due_at_ms: i64,
        outcome: &str,
    ) -> Result<(), StoreError>;

    /// Cancels a case's pending jobs of `kinds`, keeping `reason`.
    async fn cancel_jobs(
        &self,
        case_receiver: &str,
        case_key: &str,
        kinds: &[JobKind],
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError>;

    /// Jobs: the pending and running ones by due time, or (`all`) every
    /// one, newest due first.
    async fn jobs(&self, all: bool, limit: u32) -> Result<Vec<Job>, StoreError>;

    /// The jobs of one case, in the order they are due.
    async fn jobs_of_case(&self, case_key: &str) -> Result<Vec<Job>, StoreError>;

    /// A measure between `from` and `to` (Unix seconds, the events'
    /// `created`), per account, mode and currency.
    async fn summary_money(
        &self,
        measure: Measure,
        from: i64,
        to: i64,
    ) -> Result<Vec<MoneyLine>, StoreError>;

    /// A measure per hour (for the chart's days in any time zone).
    async fn summary_hourly(
        &self,
        measure: Measure,
        from: i64,
        to: i64,
    ) -> Result<Vec<MoneyLine>, StoreError>;

    /// How many of a receiver's cases wait for a person (unresolved, in an
    /// [`OPEN_STATES`] state).
    async fn open_cases(&self, receiver: &str) -> Result<i64, StoreError>;
}

/// The columns [`job_from_row`] reads.
pub const JOB_COLUMNS: &str = "id, job_key, kind, receiver, case_receiver, case_key, step, detail, due_at_ms, status, attempts, created_at_ms, finished_at_ms, outcome";

/// Reads a `jobs` row of either backend.
pub fn job_from_row<R>(row: &R) -> Result<Job, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("kind")?;
    Ok(Job {
        id: row.try_get("id")?,
        job: NewJob {
            job_key: row.try_get("job_key")?,
            kind: JobKind::parse(&kind)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown job kind {kind:?}").into()))?,
            receiver: row.try_get("receiver")?,
            case_receiver: row.try_get("case_receiver")?,
            case_key: row.try_get("case_key")?,
            step: row.try_get("step")?,
            detail: row.try_get("detail")?,
            due_at_ms: row.try_get("due_at_ms")?,
        },
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        created_at_ms: row.try_get("created_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
        outcome: row.try_get("outcome")?,
    })
}

/// Reads `jobs` rows of either backend.
pub fn jobs_from_rows<R>(rows: &[R]) -> Result<Vec<Job>, StoreError>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(job_from_row)
        .collect::<Result<_, _>>()
        .map_err(StoreError::db("reading jobs"))
}

/// Implements [`Jobs`] for a backend with a sqlx pool in `pool`; `$backend`
/// picks the JSON functions of its SQL.
macro_rules! impl_jobs {
    ($store:ty, $backend:literal) => {
        #[async_trait]
        impl $crate::store::jobs::Jobs for $store {
            async fn schedule_jobs(
                &self,
                jobs: &[$crate::store::jobs::NewJob],
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                if jobs.is_empty() {
                    return Ok(0);
                }
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    let mut new = 0;
                    for job in jobs {
                        new += sqlx::query(
                            "INSERT INTO jobs (job_key, kind, receiver, case_receiver, case_key, step, detail, due_at_ms, created_at_ms)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (job_key) DO NOTHING",
                        )
                        .bind(&job.job_key)
                        .bind(job.kind.name())
                        .bind(&job.receiver)
                        .bind(&job.case_receiver)
                        .bind(&job.case_key)
                        .bind(job.step)
                        .bind(&job.detail)
                        .bind(job.due_at_ms)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    Ok(new)
                })
                .await
                .map_err(StoreError::db("scheduling jobs"))
            }

            async fn due_job_receivers(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar(
                    "SELECT DISTINCT receiver FROM jobs WHERE due_at_ms <= $1
                       AND (status = 'pending' OR (status = 'running' AND lease_until_ms < $1))",
                )
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("looking for due jobs"))
            }

            async fn claim_jobs(
                &self,
                receiver: &str,
                owner: &str,
                now_ms: i64,
                lease_until_ms: i64,
                limit: u32,
            ) -> Result<Vec<$crate::store::jobs::Job>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM jobs WHERE receiver = $1 AND due_at_ms <= $2
                       AND (status = 'pending' OR (status = 'running' AND lease_until_ms < $2))
                     ORDER BY due_at_ms, id LIMIT $3",
                    $crate::store::jobs::JOB_COLUMNS
                ))
                .bind(receiver)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing due jobs"))?;
                let candidates = $crate::store::jobs::jobs_from_rows(&rows)?;
                if candidates.is_empty() {
                    return Ok(candidates);
                }
                // One transaction (one commit) for the batch; each row is
                // won by one process only, by its conditional update.
                $crate::store::in_write_tx(&self.pool, BEGIN_WRITE, async |tx| {
                    let mut claimed = Vec::new();
                    for mut job in candidates {
                        let won = sqlx::query(
                            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1
                             WHERE id = $3 AND (status = 'pending' OR (status = 'running' AND lease_until_ms < $4))",
                        )
                        .bind(owner)
                        .bind(lease_until_ms)
                        .bind(job.id)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                            == 1;
                        if won {
                            job.status = "running".to_owned();
                            job.attempts += 1;
                            claimed.push(job);
                        }
                    }
                    Ok(claimed)
                })
                .await
                .map_err(StoreError::db("claiming jobs"))
            }

            async fn finish_job(
                &self,
                id: i64,
                owner: &str,
                status: &str,
                outcome: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE jobs SET status = $1, outcome = $2, finished_at_ms = $3, lease_owner = NULL, lease_until_ms = NULL
                     WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
                )
                .bind(status)
                .bind(outcome)
                .bind(now_ms)
                .bind(id)
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("finishing a job"))?
                .rows_affected();
                Ok(done == 1)
            }

            async fn retry_job(
                &self,
                id: i64,
                owner: &str,
                due_at_ms: i64,
                outcome: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE jobs SET status = 'pending', due_at_ms = $1, outcome = $2, lease_owner = NULL, lease_until_ms = NULL
                     WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
                )
                .bind(due_at_ms)
                .bind(outcome)
                .bind(id)
                .bind(owner)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("putting a job back"))?;
                Ok(())
            }

            async fn cancel_jobs(
                &self,
                case_receiver: &str,
                case_key: &str,
                kinds: &[$crate::store::jobs::JobKind],
                reason: &str,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                if kinds.is_empty() {
                    return Ok(0);
                }
                let kinds = kinds
                    .iter()
                    .map(|k| format!("'{}'", k.name()))
                    .collect::<Vec<_>>()
                    .join(", ");
                // Most cases have nothing pending: a read (no write lock) says so.
                let pending: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM jobs WHERE case_key = $1 AND case_receiver = $2 AND status = 'pending' AND kind IN ({kinds})"
                ))
                .bind(case_key)
                .bind(case_receiver)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("looking for pending jobs"))?;
                if pending == 0 {
                    return Ok(0);
                }
                let cancelled = sqlx::query(&format!(
                    "UPDATE jobs SET status = 'cancelled', outcome = $1, finished_at_ms = $2
                     WHERE case_receiver = $3 AND case_key = $4 AND status = 'pending' AND kind IN ({kinds})"
                ))
                .bind(reason)
                .bind(now_ms)
                .bind(case_receiver)
                .bind(case_key)
                .execute(&self.pool)
                .await
                .map_err(StoreError::db("cancelling jobs"))?
                .rows_affected();
                Ok(cancelled)
            }

            async fn jobs(&self, all: bool, limit: u32) -> Result<Vec<$crate::store::jobs::Job>, StoreError> {
                let query = if all {
                    "ORDER BY due_at_ms DESC, id DESC"
                } else {
                    "WHERE status IN ('pending', 'running') ORDER BY due_at_ms, id"
                };
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM jobs {query} LIMIT $1",
                    $crate::store::jobs::JOB_COLUMNS
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing jobs"))?;
                $crate::store::jobs::jobs_from_rows(&rows)
            }

            async fn jobs_of_case(&self, case_key: &str) -> Result<Vec<$crate::store::jobs::Job>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM jobs WHERE case_key = $1 ORDER BY due_at_ms, id",
                    $crate::store::jobs::JOB_COLUMNS
                ))
                .bind(case_key)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("listing a case's jobs"))?;
                $crate::store::jobs::jobs_from_rows(&rows)
            }

            async fn summary_money(
                &self,
                measure: $crate::store::jobs::Measure,
                from: i64,
                to: i64,
            ) -> Result<Vec<$crate::store::jobs::MoneyLine>, StoreError> {
                self.measure(measure, from, to, false).await
            }

            async fn summary_hourly(
                &self,
                measure: $crate::store::jobs::Measure,
                from: i64,
                to: i64,
            ) -> Result<Vec<$crate::store::jobs::MoneyLine>, StoreError> {
                self.measure(measure, from, to, true).await
            }

            async fn open_cases(&self, receiver: &str) -> Result<i64, StoreError> {
                let states = $crate::store::jobs::OPEN_STATES
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM cases WHERE receiver = $1 AND resolved_at_ms IS NULL AND state IN ({states})"
                ))
                .bind(receiver)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::db("counting open cases"))
            }
        }

        impl $store {
            async fn measure(
                &self,
                measure: $crate::store::jobs::Measure,
                from: i64,
                to: i64,
                by_hour: bool,
            ) -> Result<Vec<$crate::store::jobs::MoneyLine>, StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(&$crate::store::jobs::measure_sql($backend, measure, by_hour))
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::db("computing a summary"))?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::store::jobs::MoneyLine {
                            account: row.try_get("account")?,
                            livemode: row.try_get("livemode")?,
                            currency: row.try_get("currency")?,
                            count: row.try_get("n")?,
                            amount: row.try_get::<Option<i64>, _>("total")?.unwrap_or(0),
                            hour: row.try_get::<Option<i64>, _>("hour")?.unwrap_or(0),
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(StoreError::db("reading a summary"))
            }
        }
    };
}

pub(crate) use impl_jobs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }

    #[test]
    fn json_fields_per_backend() {
        assert_eq!(
            json_field("sqlite", "e", "amount", true),
            "json_extract(e.payload, '$.data.object.amount')"
        );
        assert_eq!(
            json_field("postgres", "f", "currency", false),
            "((f.payload::jsonb) #>> '{data,object,currency}')"
        );
    }
}
