//! Follow-ups on a clock, end to end: dispute reminders and countdowns,
//! follow-ups of unpaid invoices that end in an abandoned, handed-off case,
//! escalation of unacknowledged critical cards, restarts and replicas that
//! neither skip nor repeat a reminder, and summaries with their chart
//! uploaded through each platform's own file flow.
//!
//! Days pass in no time: each app runs on a [`Clock`] the test moves
//! forward; the service's database and HTTP work keep real time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use stripe_chatops::clock::Clock;
use stripe_chatops::store::Measure;

use crate::support::fakes::{self, DISCORD_TOKEN, Fake, SLACK_TOKEN, STRIPE_KEY, TELEGRAM_TOKEN};
use crate::support::*;

const SIGNING_SECRET: &str = "slack-signing-secret-0123";
const HOUR: u64 = 3600;

fn config(database: &TestDatabase, slack: &Fake, stripe: &Fake, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{STRIPE_KEY}"
api_base_url = "{stripe}"
enrich = false
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
signing_secret = "{SIGNING_SECRET}"
[roles.finance]
slack_users = ["U_ALICE"]
{FAST}
{extra}
[[receivers]]
name = "finance"
slack = {{ channel = "C0FIN" }}
[[receivers]]
name = "oncall"
slack = {{ channel = "C0ONCALL" }}
[route]
receiver = "finance"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        slack = slack.base_url(),
    )
}

struct Setup {
    app: TestApp,
    slack: Fake,
    _stripe: Fake,
    clock: Arc<Clock>,
    text: String,
}

async fn setup_on(backend: Backend, extra: &str) -> Setup {
    let slack = fakes::slack().await;
    slack.state.unlimited.store(true, Ordering::Relaxed);
    let stripe = fakes::stripe().await;
    let database = TestDatabase::create(backend).await;
    let text = config(&database, &slack, &stripe, extra);
    let clock = Arc::new(Clock::system());
    let app = start_app_with_clock(database, &text, clock.clone()).await;
    Setup {
        app,
        slack,
        _stripe: stripe,
        clock,
        text,
    }
}

async fn setup(extra: &str) -> Setup {
    setup_on(Backend::Sqlite, extra).await
}

impl Setup {
    async fn post(&self, event: &Value) {
        post_to(&self.app, event).await;
    }

    /// Thread replies whose text contains `needle`.
    fn replies(&self, needle: &str) -> Vec<Value> {
        self.slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .filter(|p| !p.body["thread_ts"].is_null() && p.body.to_string().contains(needle))
            .map(|p| p.body)
            .collect()
    }

    fn top_level(&self, channel: &str) -> Vec<Value> {
        self.slack
            .state
            .posts("chat.postMessage")
            .into_iter()
            .filter(|p| p.body["thread_ts"].is_null() && p.channel == channel)
            .map(|p| p.body)
            .collect()
    }

    fn last_update(&self) -> String {
        self.slack
            .state
            .posts("chat.update")
            .last()
            .map(|p| p.body.to_string())
            .unwrap_or_default()
    }

    /// Moves the app's clock forward, as if `hours` had passed.
    fn pass(&self, hours: u64) {
        self.clock.advance(Duration::from_secs(hours * HOUR));
    }
}

async fn post_to(app: &TestApp, event: &Value) {
    assert_eq!(
        app.post_event("/webhooks/stripe", event, SECRET).await.0,
        200
    );
}

/// A dispute that needs a response, due `hours` after `clock`'s now.
fn dispute(id: &str, clock: &Clock, hours: i64) -> Value {
    let mut event = event("charge.dispute.created");
    event["created"] = (clock.now_secs() - 60).into();
    let object = &mut event["data"]["object"];
    object["id"] = id.into();
    object["status"] = "needs_response".into();
    object["amount"] = 12_000.into();
    object["currency"] = "usd".into();
    object["charge"] = format!("ch_of_{id}").into();
    object["evidence_details"]["due_by"] = (clock.now_secs() + hours * 3600).into();
    event
}

fn dispute_updated(id: &str, clock: &Clock, status: &str, due_by: i64) -> Value {
    let mut event = event("charge.dispute.updated");
    event["created"] = clock.now_secs().into();
    let object = &mut event["data"]["object"];
    object["id"] = id.into();
    object["status"] = status.into();
    object["amount"] = 12_000.into();
    object["currency"] = "usd".into();
    object["charge"] = format!("ch_of_{id}").into();
    object["evidence_details"]["due_by"] = due_by.into();
    event
}

fn failed_invoice(id: &str, created: i64) -> Value {
    let mut event = event("invoice.payment_failed");
    event["created"] = created.into();
    let object = &mut event["data"]["object"];
    object["id"] = id.into();
    object["status"] = "open".into();
    object["amount_due"] = 4_900.into();
    object["currency"] = "eur".into();
    event
}

fn paid_invoice(id: &str, created: i64) -> Value {
    let mut event = event("invoice.paid");
    event["created"] = created.into();
    let object = &mut event["data"]["object"];
    object["id"] = id.into();
    object["status"] = "paid".into();
    object["amount_paid"] = 4_900.into();
    object["currency"] = "eur".into();
    event
}

async fn jobs_of(app: &TestApp, case: &str) -> Vec<stripe_chatops::store::Job> {
    app.state.store.jobs_of_case(case).await.unwrap()
}

/// Waits until every job due on `clock` has run (none pending or running):
/// what the schedule does at this time is done, and the test may look.
async fn settled(app: &TestApp, clock: &Clock) {
    eventually(20, "every due job run", || async {
        let now = clock.now_ms();
        let jobs = app.state.store.jobs(false, 1000).await.unwrap();
        jobs.iter().all(|j| j.job.due_at_ms > now).then_some(())
    })
    .await;
}

/// Waits until a case's card is out and `n` jobs of `kind` are pending:
/// only then may the test move the clock.
async fn scheduled(app: &TestApp, case: &str, kind: &str, n: usize) {
    eventually(20, "the follow-ups scheduled", || async {
        let jobs = jobs_of(app, case).await;
        let pending = jobs
            .iter()
            .filter(|j| j.job.kind.name() == kind && j.status == "pending")
            .count();
        (pending >= n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_dispute_is_reminded_72_24_and_4_hours_before_its_deadline() {
    let s = setup("").await;
    let due_by = s.clock.now_secs() + 80 * 3600;
    s.post(&dispute("dp_sched1", &s.clock, 80)).await;
    scheduled(&s.app, "dp_sched1", "dispute_reminder", 3).await;
    let card = s.top_level("C0FIN")[0].to_string();
    assert!(card.contains("due in 3 days 8 h"), "{card}");
    let reminders: Vec<_> = jobs_of(&s.app, "dp_sched1")
        .await
        .into_iter()
        .filter(|j| j.job.kind.name() == "dispute_reminder")
        .map(|j| (j.job.due_at_ms / 1000, j.status))
        .collect();
    assert_eq!(
        reminders,
        [72, 24, 4].map(|h| (due_by - h * 3600, "pending".to_owned()))
    );
    for (hours, (countdown, step)) in [
        (8, ("due in 3 days", 1)),
        (48, ("due in 1 day", 2)),
        (20, ("due in 4 h", 3)),
    ] {
        s.pass(hours);
        let reminder = eventually(20, "a reminder in the thread", || async {
            s.replies(&format!("reminder {step} of 3"))
                .into_iter()
                .next()
        })
        .await;
        let text = reminder.to_string();
        assert!(text.contains(&format!("Evidence {countdown}")), "{text}");
        assert!(text.contains("$120.00 USD"), "{text}");
        assert!(
            text.contains("dashboard.stripe.com"),
            "the evidence link: {text}"
        );
        assert!(!text.contains("late"), "on time: {text}");
        // The card's countdown is edited with it.
        eventually(20, "the card's countdown", || async {
            s.last_update().contains(countdown).then_some(())
        })
        .await;
    }
    for step in 1..=3 {
        assert_eq!(
            s.replies(&format!("reminder {step} of 3")).len(),
            1,
            "reminder {step} once"
        );
    }
    s.app.stop().await;
}

#[tokio::test]
async fn no_reminder_after_the_evidence_is_submitted() {
    let s = setup("").await;
    let due_by = s.clock.now_secs() + 80 * 3600;
    s.post(&dispute("dp_sched2", &s.clock, 80)).await;
    scheduled(&s.app, "dp_sched2", "dispute_reminder", 3).await;
    s.pass(8);
    eventually(20, "the first reminder", || async {
        s.replies("reminder 1 of 3").into_iter().next()
    })
    .await;
    s.post(&dispute_updated(
        "dp_sched2",
        &s.clock,
        "under_review",
        due_by,
    ))
    .await;
    eventually(20, "the pending reminders cancelled", || async {
        let jobs = jobs_of(&s.app, "dp_sched2").await;
        jobs.iter()
            .filter(|j| j.job.kind.name() == "dispute_reminder")
            .all(|j| j.status != "pending")
            .then_some(jobs)
    })
    .await;
    let jobs = jobs_of(&s.app, "dp_sched2").await;
    let cancelled: Vec<_> = jobs
        .iter()
        .filter(|j| j.status == "cancelled" && j.job.kind.name() == "dispute_reminder")
        .collect();
    assert_eq!(cancelled.len(), 2);
    assert!(
        cancelled
            .iter()
            .all(|j| j.outcome.as_deref() == Some("evidence submitted"))
    );
    s.pass(72);
    settled(&s.app, &s.clock).await;
    assert!(s.replies("reminder 2 of 3").is_empty());
    assert!(s.replies("reminder 3 of 3").is_empty());
    s.app.stop().await;
}

const UNPAID: &str = r#"
[interactions]
assignees = ["@alice", "billing-queue"]
ticket_webhook = "{SLACK}/hooks/T0/B0/helpdesk"
[reminders.unpaid]
receivers = ["finance"]
hand_off_to = "billing-queue"
"#;

#[tokio::test]
async fn an_unpaid_invoice_gets_three_follow_ups_then_is_abandoned_and_handed_off() {
    // No helpdesk listens here: the hand-off stands, its ticket is audited as failed.
    let s = setup(&UNPAID.replace("{SLACK}", "http://127.0.0.1:9")).await;
    s.post(&failed_invoice("in_unpaid1", s.clock.now_secs() - 60))
        .await;
    scheduled(&s.app, "in_unpaid1", "unpaid_reminder", 3).await;
    for (hours, step) in [(2, 1), (22, 2), (24, 3)] {
        s.pass(hours);
        let line = eventually(20, "a follow-up", || async {
            s.replies(&format!("follow-up {step} of 3"))
                .into_iter()
                .next()
        })
        .await;
        let text = line.to_string();
        assert!(text.contains("€49.00 EUR"), "{text}");
        assert!(
            text.contains("Send reminder e-mail"),
            "the dunning button: {text}"
        );
        assert!(
            !text.contains("jenny.rosen@example.com"),
            "the customer's e-mail is redacted: {text}"
        );
    }
    let last = s.replies("follow-up 3 of 3")[0].to_string();
    assert!(last.contains("Abandoned"), "{last}");
    assert!(last.contains("handed to billing-queue"), "{last}");
    // The card says so, the case is assigned, and the audit log has it.
    eventually(20, "the card edited as abandoned", || async {
        s.last_update()
            .contains("handed to billing-queue")
            .then_some(())
    })
    .await;
    let case = s
        .app
        .state
        .store
        .case("finance", "in_unpaid1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(case.assignee.as_deref(), Some("billing-queue"));
    assert!(case.abandoned_at_ms.is_some());
    let audit = s.app.state.store.audit(10).await.unwrap();
    let abandon = audit
        .iter()
        .find(|a| a.action == "abandon" && a.object_id.as_deref() == Some("in_unpaid1"))
        .expect("an audit row");
    assert_eq!(abandon.outcome, "failed", "the ticket could not be posted");
    assert!(
        abandon
            .detail
            .as_deref()
            .unwrap()
            .contains("handed to billing-queue")
    );
    for step in 1..=3 {
        assert_eq!(s.replies(&format!("follow-up {step} of 3")).len(), 1);
    }
    s.app.stop().await;
}

#[tokio::test]
async fn the_ticket_webhook_gets_the_abandoned_case() {
    // The helpdesk is a second Slack fake's incoming-webhook path.
    let helpdesk = fakes::slack().await;
    let extra = UNPAID.replace("{SLACK}", &helpdesk.base_url());
    let s = setup(&extra).await;
    s.post(&failed_invoice("in_unpaid2", s.clock.now_secs() - 60))
        .await;
    scheduled(&s.app, "in_unpaid2", "unpaid_reminder", 3).await;
    for hours in [2, 22, 24] {
        s.pass(hours);
        settled(&s.app, &s.clock).await;
    }
    let ticket = eventually(20, "the ticket", || async {
        helpdesk.state.posts("webhook").into_iter().next()
    })
    .await;
    assert_eq!(ticket.body["assignee"], json!("billing-queue"));
    assert_eq!(ticket.body["object_id"], json!("in_unpaid2"));
    assert_eq!(
        ticket.body["assigned_by"],
        json!("stripe-chatops follow-ups")
    );
    s.app.stop().await;
}

#[tokio::test]
async fn paid_after_the_first_follow_up_cancels_the_rest() {
    let s = setup(&UNPAID.replace("{SLACK}", "http://127.0.0.1:9")).await;
    s.post(&failed_invoice("in_unpaid3", s.clock.now_secs() - 60))
        .await;
    scheduled(&s.app, "in_unpaid3", "unpaid_reminder", 3).await;
    s.pass(2);
    eventually(20, "the first follow-up", || async {
        s.replies("follow-up 1 of 3").into_iter().next()
    })
    .await;
    s.post(&paid_invoice("in_unpaid3", s.clock.now_secs()))
        .await;
    let jobs = eventually(20, "the rest cancelled", || async {
        let jobs = jobs_of(&s.app, "in_unpaid3").await;
        jobs.iter().all(|j| j.status != "pending").then_some(jobs)
    })
    .await;
    let cancelled: Vec<_> = jobs.iter().filter(|j| j.status == "cancelled").collect();
    assert_eq!(cancelled.len(), 2);
    assert!(
        cancelled
            .iter()
            .all(|j| j.outcome.as_deref() == Some("the invoice is paid")),
        "{cancelled:?}"
    );
    s.pass(72);
    settled(&s.app, &s.clock).await;
    assert!(s.replies("follow-up 2 of 3").is_empty());
    assert!(s.replies("follow-up 3 of 3").is_empty());
    let case = s
        .app
        .state
        .store
        .case("finance", "in_unpaid3")
        .await
        .unwrap()
        .unwrap();
    assert!(case.abandoned_at_ms.is_none());
    s.app.stop().await;
}

#[tokio::test]
async fn a_restart_between_reminders_neither_skips_nor_repeats_one() {
    let s = setup("").await;
    s.post(&dispute("dp_restart", &s.clock, 80)).await;
    scheduled(&s.app, "dp_restart", "dispute_reminder", 3).await;
    s.pass(8);
    eventually(20, "the first reminder", || async {
        s.replies("reminder 1 of 3").into_iter().next()
    })
    .await;
    let Setup {
        app,
        slack,
        _stripe,
        clock,
        text,
    } = s;
    let database = app.halt().await;
    // 50 hours pass while the service is down: the second reminder (56 h
    // after the dispute) falls due then.
    clock.advance(Duration::from_secs(50 * HOUR));
    let app = start_app_with_clock(database, &text, clock.clone()).await;
    let s = Setup {
        app,
        slack,
        _stripe,
        clock,
        text,
    };
    let late = eventually(20, "the second reminder, late", || async {
        s.replies("reminder 2 of 3").into_iter().next()
    })
    .await;
    assert!(
        late.to_string().contains("late"),
        "it says it is late: {late}"
    );
    settled(&s.app, &s.clock).await;
    assert_eq!(s.replies("reminder 1 of 3").len(), 1, "not repeated");
    assert_eq!(s.replies("reminder 2 of 3").len(), 1);
    let jobs = jobs_of(&s.app, "dp_restart").await;
    let second = jobs
        .iter()
        .find(|j| j.job.kind.name() == "dispute_reminder" && j.job.step == 1)
        .unwrap();
    assert_eq!(second.status, "done");
    assert!(
        second.outcome.as_deref().unwrap().contains("late"),
        "{second:?}"
    );
    s.pass(20);
    eventually(20, "the third reminder", || async {
        s.replies("reminder 3 of 3").into_iter().next()
    })
    .await;
    s.app.stop().await;
}

#[tokio::test]
async fn two_replicas_send_each_reminder_once() {
    if postgres_url().is_none() {
        return;
    }
    let s = setup_on(Backend::Postgres, "").await;
    let second = start_app_with_clock(
        TestDatabase::shared(&s.app.database.url),
        &s.text,
        s.clock.clone(),
    )
    .await;
    for n in 0..4 {
        let app = if n % 2 == 0 { &s.app } else { &second };
        post_to(app, &dispute(&format!("dp_replica{n}"), &s.clock, 80)).await;
    }
    for n in 0..4 {
        scheduled(&s.app, &format!("dp_replica{n}"), "dispute_reminder", 3).await;
    }
    assert_eq!(s.top_level("C0FIN").len(), 4);
    for (hours, step) in [(8, 1), (48, 2), (20, 3)] {
        s.pass(hours);
        eventually(30, "every dispute reminded", || async {
            (s.replies(&format!("reminder {step} of 3")).len() >= 4).then_some(())
        })
        .await;
    }
    settled(&s.app, &s.clock).await;
    for step in 1..=3 {
        assert_eq!(
            s.replies(&format!("reminder {step} of 3")).len(),
            4,
            "each dispute's reminder {step} once across both replicas"
        );
    }
    second.halt().await;
    s.app.stop().await;
}

#[tokio::test]
async fn an_unacknowledged_dispute_is_escalated_once_and_acknowledging_cancels_it() {
    let s = setup(
        r#"
[escalation]
after = "30m"
receiver = "oncall"
mention = "<!subteam^S0LEADS>"
"#,
    )
    .await;
    s.post(&dispute("dp_escalate", &s.clock, 200)).await;
    s.post(&dispute("dp_acked", &s.clock, 200)).await;
    scheduled(&s.app, "dp_escalate", "escalate", 1).await;
    scheduled(&s.app, "dp_acked", "escalate", 1).await;
    let cards = eventually(20, "two cards", || async {
        let cards = s.top_level("C0FIN");
        (cards.len() == 2).then_some(cards)
    })
    .await;
    let acked = cards
        .iter()
        .find(|c| c.to_string().contains("dp_acked"))
        .unwrap();
    let token = acked["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == "acknowledge")
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .expect("an Acknowledge button");
    assert_eq!(
        s.app
            .slack_click(&s.slack.base_url(), SIGNING_SECRET, "U_ALICE", &token)
            .await,
        200
    );
    eventually(20, "the escalation cancelled", || async {
        let jobs = jobs_of(&s.app, "dp_acked").await;
        jobs.iter()
            .find(|j| j.job.kind.name() == "escalate" && j.status == "cancelled")
            .cloned()
    })
    .await;
    // 31 minutes: only the unacknowledged one goes to on-call, once.
    s.clock.advance(Duration::from_secs(31 * 60));
    let escalated = eventually(20, "the escalation", || async {
        s.top_level("C0ONCALL").into_iter().next()
    })
    .await;
    let text = escalated.to_string();
    assert!(text.contains("Escalated"), "{text}");
    assert!(text.contains("<!subteam^S0LEADS>"), "{text}");
    assert!(text.contains("dp_escalate"), "{text}");
    s.clock.advance(Duration::from_secs(2 * HOUR));
    settled(&s.app, &s.clock).await;
    assert_eq!(
        s.top_level("C0ONCALL").len(),
        1,
        "escalated once, and only the one"
    );
    let acked_job = jobs_of(&s.app, "dp_acked")
        .await
        .into_iter()
        .find(|j| j.job.kind.name() == "escalate")
        .unwrap();
    assert!(
        acked_job
            .outcome
            .as_deref()
            .unwrap()
            .starts_with("acknowledged by"),
        "{acked_job:?}"
    );
    s.app.stop().await;
}

// -------------------------------------------------------------- summaries

fn linked(event_type: &str, created: i64, object: Value) -> Value {
    let mut event = event(event_type);
    event["created"] = created.into();
    event["id"] = format!("evt_{}", sample_id()).into();
    event["data"]["object"] = object;
    event
}

fn sample_id() -> String {
    stripe_chatops::stripe::sample::random_id("x")
}

/// A fixed week of events, and the exact numbers a summary must show.
#[tokio::test]
async fn the_summary_counts_a_fixed_set_of_events_exactly() {
    for backend in backends() {
        // A summary is configured: the pipeline keeps the cases it counts by.
        let database = TestDatabase::create(backend).await;
        let app = start_app(
            database,
            "[[summaries]]\nreceiver = \"console\"\nevery = \"weekly\"\n",
        )
        .await;
        let end = 1_764_460_800; // Nov 30, 2025 00:00 UTC
        let start = end - 7 * 86_400;
        let t = start + 3 * 86_400;
        let events = vec![
            // One payment told three times: counted once, $50.00.
            linked(
                "payment_intent.succeeded",
                t,
                json!({ "id": "pi_A", "object": "payment_intent", "amount": 5000, "amount_received": 5000, "currency": "usd", "invoice": "in_A" }),
            ),
            linked(
                "charge.succeeded",
                t,
                json!({ "id": "ch_A", "object": "charge", "amount": 5000, "currency": "usd", "payment_intent": "pi_A", "invoice": "in_A" }),
            ),
            linked(
                "invoice.paid",
                t + 1,
                json!({ "id": "in_A", "object": "invoice", "amount_paid": 5000, "amount_due": 5000, "currency": "usd", "payment_intent": "pi_A", "status": "paid" }),
            ),
            // Failed, then paid: failed 1, received 1, recovered 1 ($20.00).
            linked(
                "invoice.payment_failed",
                t + 10,
                json!({ "id": "in_B", "object": "invoice", "amount_due": 2000, "currency": "usd", "status": "open" }),
            ),
            linked(
                "invoice.paid",
                t + 86_400,
                json!({ "id": "in_B", "object": "invoice", "amount_paid": 2000, "amount_due": 2000, "currency": "usd", "status": "paid" }),
            ),
            // Failed, never paid ($15.00).
            linked(
                "charge.failed",
                t + 20,
                json!({ "id": "ch_C", "object": "charge", "amount": 1500, "currency": "usd" }),
            ),
            // A refund of $7.00.
            linked(
                "charge.refunded",
                t + 30,
                json!({ "id": "ch_D", "object": "charge", "amount": 3000, "amount_refunded": 700, "currency": "usd", "refunded": false }),
            ),
            // Disputes: one opened, one won, one lost.
            linked(
                "charge.dispute.created",
                t + 40,
                json!({ "id": "dp_E", "object": "dispute", "amount": 1000, "currency": "usd", "status": "needs_response", "charge": "ch_E" }),
            ),
            linked(
                "charge.dispute.closed",
                t + 50,
                json!({ "id": "dp_F", "object": "dispute", "amount": 800, "currency": "usd", "status": "won", "charge": "ch_F" }),
            ),
            linked(
                "charge.dispute.closed",
                t + 60,
                json!({ "id": "dp_G", "object": "dispute", "amount": 300, "currency": "usd", "status": "lost", "charge": "ch_G" }),
            ),
            // Another currency: a group of its own.
            linked(
                "charge.succeeded",
                t + 70,
                json!({ "id": "ch_H", "object": "charge", "amount": 4200, "currency": "eur" }),
            ),
            // The week before: $30.00 received.
            linked(
                "charge.succeeded",
                start - 86_400,
                json!({ "id": "ch_I", "object": "charge", "amount": 3000, "currency": "usd" }),
            ),
            // After the period: not counted.
            linked(
                "charge.succeeded",
                end + 10,
                json!({ "id": "ch_J", "object": "charge", "amount": 9900, "currency": "usd" }),
            ),
        ];
        let count = events.len() as u64;
        for event in &events {
            let (status, _) = app
                .post_webhook(
                    "/webhooks/stripe",
                    event.to_string(),
                    Some(&sign_at(event.to_string().as_bytes(), SECRET, now())),
                )
                .await;
            assert_eq!(status, 200);
        }
        eventually(20, "every event routed", || async {
            let unrouted = app.state.store.unrouted_events(100).await.unwrap();
            (app.stored().await == count && unrouted.is_empty()).then_some(())
        })
        .await;
        let store = app.state.store.as_ref();
        let line = |rows: Vec<stripe_chatops::store::MoneyLine>, currency: &str| {
            rows.into_iter()
                .find(|l| l.currency == currency)
                .map_or((0, 0), |l| (l.count, l.amount))
        };
        let table = [
            (Measure::Received, "usd", (2, 7000)),
            (Measure::Received, "eur", (1, 4200)),
            (Measure::Failed, "usd", (2, 3500)),
            (Measure::Recovered, "usd", (1, 2000)),
            (Measure::Refunded, "usd", (1, 700)),
            (Measure::DisputesOpened, "usd", (1, 1000)),
            (Measure::DisputesWon, "usd", (1, 800)),
            (Measure::DisputesLost, "usd", (1, 300)),
        ];
        for (measure, currency, expected) in table {
            let got = line(
                store.summary_money(measure, start, end).await.unwrap(),
                currency,
            );
            assert_eq!(got, expected, "{measure:?} {currency} on {backend:?}");
        }
        let before = line(
            store
                .summary_money(Measure::Received, start - 7 * 86_400, start)
                .await
                .unwrap(),
            "usd",
        );
        assert_eq!(before, (1, 3000));
        // The whole summary: per currency, compared, with seven days.
        let config = app.state.config();
        let summary = stripe_chatops::delivery::summary::compute(
            store,
            &config,
            "Weekly summary",
            "console",
            (start, end),
            chrono_tz::Tz::UTC,
        )
        .await
        .unwrap();
        assert_eq!(summary.groups.len(), 2);
        let usd = summary.groups.iter().find(|g| g.currency == "usd").unwrap();
        assert_eq!(usd.days.len(), 7);
        assert_eq!(usd.days.iter().map(|d| d.received).sum::<i64>(), 7000);
        assert_eq!(usd.days.iter().map(|d| d.failed).sum::<i64>(), 3500);
        assert_eq!(usd.days[3].received, 5000);
        assert_eq!(usd.days[4].received, 2000);
        assert_eq!(usd.before[0].amount, 3000);
        let cards = stripe_chatops::render::summary::cards(&summary);
        let usd_card = cards.iter().find(|c| c.title.contains("USD")).unwrap();
        assert_eq!(
            usd_card.title,
            "📊 Weekly summary · USD · $70.00 USD received"
        );
        assert_eq!(
            usd_card.fields[0].value,
            "2 · $70.00 USD (▲ 133 % before: $30.00 USD)"
        );
        app.stop().await;
    }
}

/// Decodes a PNG's size.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a PNG that decodes");
    (reader.info().width, reader.info().height)
}

#[tokio::test]
async fn a_daily_summary_and_its_chart_reach_each_platform_through_its_upload_flow() {
    let slack = fakes::slack().await;
    let discord = fakes::discord().await;
    let telegram = fakes::telegram().await;
    for fake in [&slack, &discord, &telegram] {
        fake.state.unlimited.store(true, Ordering::Relaxed);
    }
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
[slack]
bot_token = "{SLACK_TOKEN}"
api_base_url = "{slack}/api"
[discord]
bot_token = "{DISCORD_TOKEN}"
api_base_url = "{discord}"
[telegram]
bot_token = "{TELEGRAM_TOKEN}"
api_base_url = "{telegram}"
{FAST}
[[receivers]]
name = "finance"
slack = {{ channel = "C0SUM" }}
[[receivers]]
name = "finance-discord"
discord = {{ channel_id = "223456789012345678" }}
[[receivers]]
name = "finance-telegram"
telegram = {{ chat_id = 4242 }}
[route]
receiver = "none"
[[summaries]]
receiver = "finance"
every = "daily"
at = "09:00"
timezone = "Europe/Paris"
[[summaries]]
receiver = "finance-discord"
every = "daily"
[[summaries]]
receiver = "finance-telegram"
every = "daily"
"#,
        url = database.url,
        slack = slack.base_url(),
        discord = discord.base_url(),
        telegram = telegram.base_url(),
    );
    // A fixed calendar: Monday Nov 30, 2026, 12:00 UTC. The next 09:00 is
    // 20 h away in Paris (08:00 UTC) and 21 h away in UTC.
    let clock = Arc::new(Clock::starting_at(1_796_040_000_000));
    let app = start_app_with_clock(database, &text, clock.clone()).await;
    // Today's payments, in tomorrow's daily summary.
    let t = clock.now_secs() - 3600;
    for (i, amount) in [2500, 7500].iter().enumerate() {
        let event = linked(
            "charge.succeeded",
            t + i as i64,
            json!({ "id": format!("ch_sum{i}"), "object": "charge", "amount": amount, "currency": "usd" }),
        );
        post_to(&app, &event).await;
    }
    let jobs = eventually(20, "three summaries scheduled", || async {
        let jobs = app.state.store.jobs(false, 10).await.unwrap();
        (jobs
            .iter()
            .filter(|j| j.job.kind.name() == "summary")
            .count()
            == 3)
            .then_some(jobs)
    })
    .await;
    assert!(jobs.iter().all(|j| j.job.due_at_ms > clock.now_ms()));
    clock.advance(Duration::from_secs(22 * HOUR));
    // Slack: the card, then getUploadURLExternal → upload → completeUploadExternal.
    let complete = eventually(30, "Slack's upload completed", || async {
        slack
            .state
            .posts("files.completeUploadExternal")
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(complete.channel, "C0SUM");
    let asked = &slack.state.posts("files.getUploadURLExternal")[0].body;
    let file_id = complete.body["files"][0]["id"].as_str().unwrap().to_owned();
    let bytes = slack
        .state
        .files
        .lock()
        .unwrap()
        .get(&file_id)
        .cloned()
        .unwrap();
    assert_eq!(asked["length"], json!(bytes.len()));
    assert_eq!(png_size(&bytes), (900, 420));
    let card = slack.state.posts("chat.postMessage")[0].body.to_string();
    assert!(card.contains("Daily summary"), "{card}");
    assert!(card.contains("$100.00 USD received"), "{card}");
    // Discord: one message, the chart attached and shown in the embed.
    let created = eventually(30, "Discord's message with the chart", || async {
        discord
            .state
            .posts("create")
            .into_iter()
            .find(|p| !p.body["_files"].as_array().is_none_or(|f| f.is_empty()))
    })
    .await;
    let file = &created.body["_files"][0];
    assert_eq!(file["png"], json!(true));
    let filename = file["filename"].as_str().unwrap();
    assert_eq!(
        created.body["embeds"][0]["image"]["url"],
        json!(format!("attachment://{filename}"))
    );
    let bytes = discord
        .state
        .files
        .lock()
        .unwrap()
        .get(filename)
        .cloned()
        .unwrap();
    assert_eq!(png_size(&bytes), (900, 420));
    // Telegram: the card, then sendPhoto replying to it.
    let photo = eventually(30, "Telegram's sendPhoto", || async {
        telegram.state.posts("sendPhoto").into_iter().next()
    })
    .await;
    let card = telegram.state.posts("sendMessage")[0].clone();
    assert_eq!(photo.channel, "4242");
    assert_eq!(photo.body["_files"][0]["png"], json!(true));
    assert!(
        photo.body["caption"]
            .as_str()
            .unwrap()
            .contains("Daily summary")
    );
    assert!(card.body["text"].as_str().unwrap().contains("$100.00 USD"));
    // Each summary ran once and the next one is scheduled a day later.
    let jobs = eventually(20, "every summary recorded as done", || async {
        let jobs = app.state.store.jobs(true, 20).await.unwrap();
        let done = jobs
            .iter()
            .filter(|j| j.job.kind.name() == "summary" && j.status == "done")
            .count();
        (done == 3).then_some(jobs)
    })
    .await;
    let summaries: Vec<_> = jobs
        .iter()
        .filter(|j| j.job.kind.name() == "summary")
        .collect();
    assert_eq!(
        summaries.iter().filter(|j| j.status == "done").count(),
        3,
        "{summaries:?}"
    );
    assert_eq!(
        summaries.iter().filter(|j| j.status == "pending").count(),
        3
    );
    assert_eq!(slack.state.posts("files.completeUploadExternal").len(), 1);
    app.stop().await;
}
