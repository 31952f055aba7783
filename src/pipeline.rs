//! The pipeline: every stored event is routed once, to one pending delivery
//! per receiver it reaches, with its case key (which Stripe object's card it
//! edits) and any silence that holds it back.
//!
//! It runs beside the HTTP server, never on the request path. The webhook
//! handler wakes it after each newly committed event; a one-second tick and
//! the start-up pass catch whatever a crash or another replica left unrouted,
//! so an event that was acknowledged is always routed eventually. Routing is
//! recorded in one transaction per batch (deliveries and `routed_at_ms`),
//! and `(event, receiver)` is unique, so two replicas routing the same event
//! at once still write each delivery once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::config::{Config, LiveConfig};
use crate::event::case::case_ids;
use crate::routing::Silences;
use crate::store::{NewDelivery, Routed, Store, StoreError, StoredEvent};
use crate::telemetry::Metrics;

/// The route name of a payment request's deliveries (they follow the
/// request, not a `[[routes]]` entry).
pub const PAYMENT_REQUEST_ROUTE: &str = "payment_request";

/// Events routed per store round trip.
const BATCH: u32 = 200;

/// How often the pipeline looks for unrouted events when nothing woke it.
const TICK: Duration = Duration::from_secs(1);

/// The routing of one stored event: its case ids and its deliveries, each
/// held back by the first active silence that matches it (stored as
/// `silenced`, never posted) and grouped by its route's `group_by`.
pub fn routing_for(
    config: &Config,
    silences: &Silences,
    stored: &StoredEvent,
    now_ms: i64,
) -> Routed {
    let view = match stored.view() {
        Ok(view) => view,
        Err(error) => {
            // Cannot happen for an event that passed ingest; recorded as routed to nobody, not retried forever.
            tracing::warn!(event_id = %stored.event.event_id, error = %error, "event has no view; not delivered");
            return Routed {
                seq: stored.seq,
                case_ids: Vec::new(),
                deliveries: Vec::new(),
            };
        }
    };
    let case_ids = case_ids(&view);
    let silenced_by = silences.silencing(&view, &case_ids);
    // A payment request's own "requested" event goes to its card's receiver
    // only; its sessions' Stripe events go there as well as where routes say.
    let request_receiver = view
        .payment_request()
        .and_then(|r| r.receiver.as_deref())
        .filter(|name| config.receivers.contains_key(*name));
    let routed = if view.event_type == crate::event::PAYMENT_REQUESTED {
        Vec::new()
    } else {
        config.router.route(&view)
    };
    let mut deliveries: Vec<NewDelivery> = routed
        .into_iter()
        .map(|found| {
            let mut delivery = NewDelivery::new(found.receiver, found.route);
            if let Some(grouping) = &found.grouping {
                delivery.group = Some(grouping.key(&delivery.route, &view, &case_ids));
                delivery.not_before_ms = now_ms + grouping.wait.as_millis() as i64;
            }
            delivery.silenced_by = silenced_by;
            delivery
        })
        .collect();
    if let Some(receiver) = request_receiver
        && !deliveries.iter().any(|d| d.receiver == receiver)
    {
        let mut delivery = NewDelivery::new(receiver, PAYMENT_REQUEST_ROUTE);
        // A request is never folded into a digest; a silence holds it as any card.
        delivery.silenced_by = silenced_by;
        deliveries.push(delivery);
    }
    let receivers: Vec<&str> = deliveries.iter().map(|d| d.receiver.as_str()).collect();
    tracing::debug!(event_id = %stored.event.event_id, event_type = %stored.event.event_type, receivers = ?receivers, silenced_by, "event routed");
    Routed {
        seq: stored.seq,
        // No receiver can edit a card: no case to keep, and no bookkeeping.
        case_ids: if config.keeps_cases() {
            case_ids
        } else {
            Vec::new()
        },
        deliveries,
    }
}

/// Routes every unrouted event now, one transaction per batch; returns how
/// many were routed and how many of their deliveries a silence held back.
pub async fn route_pending(config: &Config, store: &dyn Store) -> Result<(usize, u64), StoreError> {
    let (mut routed, mut silenced) = (0, 0);
    let mut silences: Option<Silences> = None;
    loop {
        let events = store.unrouted_events(BATCH).await?;
        if events.is_empty() {
            return Ok((routed, silenced));
        }
        let now = crate::store::now_ms();
        // The silences in force now, read once per pass (shared by every replica).
        if silences.is_none() {
            let active = store.silences(false, now).await?;
            silences = Some(Silences::new(
                active
                    .into_iter()
                    .filter(|s| s.is_active(now))
                    .map(|s| (s.id, s.silence.matchers)),
            ));
        }
        let Some(active) = &silences else { continue };
        let decided: Vec<Routed> = events
            .iter()
            .map(|e| routing_for(config, active, e, now))
            .collect();
        silenced += decided
            .iter()
            .flat_map(|r| &r.deliveries)
            .filter(|d| d.silenced_by.is_some())
            .count() as u64;
        store.record_routing(decided, now).await?;
        // The events are routed; a failure here costs the request's status
        // and audit row of this outcome, never a card.
        if let Err(error) = settle_payment_requests(store, &events, now).await {
            tracing::error!(error = %crate::telemetry::chain(&error), "payment requests: an outcome was not recorded");
        }
        routed += events.len();
        if events.len() < BATCH as usize {
            return Ok((routed, silenced));
        }
    }
}

/// Records how Stripe says a payment request's link ended (paid, expired,
/// payment failed) on the request, and in the audit log under the asker,
/// once: the request's conditional update decides which replica writes.
async fn settle_payment_requests(
    store: &dyn Store,
    events: &[StoredEvent],
    now: i64,
) -> Result<(), StoreError> {
    for stored in events {
        let event_type = stored.event.event_type.as_str();
        let status = match event_type {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => "paid",
            "checkout.session.expired" => "expired",
            "checkout.session.async_payment_failed" => "payment_failed",
            _ => continue,
        };
        let Ok(view) = stored.view() else { continue };
        let Some(checkout) = &view.checkout else {
            continue;
        };
        let Some(request) = &checkout.request else {
            continue;
        };
        // A completed session whose delayed payment is still on its way is not paid yet.
        let status = if status == "paid" && checkout.payment_status.as_deref() == Some("unpaid") {
            "processing"
        } else {
            status
        };
        let session = view.object_id.clone().unwrap_or_default();
        let outcome = format!("{status} ({event_type}, {})", stored.event.event_id);
        if !store
            .settle_request(&request.id, i64::from(request.link), status, &outcome, now)
            .await?
        {
            continue;
        }
        let Some(row) = store.payment_request(&request.id).await? else {
            continue;
        };
        let amount = view
            .amount
            .as_ref()
            .map_or_else(String::new, |a| a.display.clone());
        let (platform, user) = row.asker.split_once(':').unwrap_or(("", &row.asker));
        let entry = crate::store::AuditEntry {
            at_ms: now,
            platform: platform.to_owned(),
            user_id: user.to_owned(),
            action: crate::config::ActionKind::RequestPayment.name().to_owned(),
            event_id: Some(stored.event.event_id.clone()),
            object_id: Some(session.clone()),
            outcome: status.to_owned(),
            detail: Some(format!(
                "{amount} · {:?} · link {} · {session} · {status}",
                row.description, request.link
            )),
            stripe_request_id: None,
        };
        store.append_audit(&entry).await?;
    }
    Ok(())
}

/// Runs the pipeline until `stop` turns true; `delivered` is notified after
/// each pass that queued deliveries.
pub async fn run(
    live: Arc<LiveConfig>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    delivered: Arc<Notify>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // The routes in use now: a reload applies to the next event.
        match route_pending(&live.get(), store.as_ref()).await {
            Ok((0, _)) => {}
            Ok((_, silenced)) => {
                metrics.silenced(silenced);
                delivered.notify_one();
            }
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "routing failed; retrying")
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
