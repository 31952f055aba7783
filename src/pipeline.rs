//! The pipeline: every stored event is routed once, to one pending delivery
//! per receiver it reaches.
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
use crate::store::{NewDelivery, Store, StoreError, StoredEvent};

/// Events routed per store round trip.
const BATCH: u32 = 200;

/// How often the pipeline looks for unrouted events when nothing woke it.
const TICK: Duration = Duration::from_secs(1);

/// The deliveries one stored event needs.
pub fn deliveries_for(config: &Config, stored: &StoredEvent) -> Vec<NewDelivery> {
    let deliveries: Vec<NewDelivery> = match stored.view() {
        Ok(view) => config
            .router
            .route(&view)
            .into_iter()
            .map(|found| NewDelivery {
                receiver: found.receiver,
                route: found.route,
            })
            .collect(),
        Err(error) => {
            // Cannot happen for an event that passed ingest; recorded as routed to nobody, not retried forever.
            tracing::warn!(event_id = %stored.event.event_id, error = %error, "event has no view; not delivered");
            Vec::new()
        }
    };
    let receivers: Vec<&str> = deliveries.iter().map(|d| d.receiver.as_str()).collect();
    tracing::debug!(event_id = %stored.event.event_id, event_type = %stored.event.event_type, receivers = ?receivers, "event routed");
    deliveries
}

/// Routes every unrouted event now, one transaction per batch; returns how many were routed.
pub async fn route_pending(config: &Config, store: &dyn Store) -> Result<usize, StoreError> {
    let mut routed = 0;
    loop {
        let events = store.unrouted_events(BATCH).await?;
        let decided: Vec<(i64, Vec<NewDelivery>)> = events
            .iter()
            .map(|e| (e.seq, deliveries_for(config, e)))
            .collect();
        if !decided.is_empty() {
            store
                .record_routing(decided, crate::store::now_ms())
                .await?;
        }
        routed += events.len();
        if events.len() < BATCH as usize {
            return Ok(routed);
        }
    }
}

/// Runs the pipeline until `stop` turns true; `delivered` is notified after
/// each pass that queued deliveries.
pub async fn run(
    live: Arc<LiveConfig>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    delivered: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        // The routes in use now: a reload applies to the next event.
        match route_pending(&live.get(), store.as_ref()).await {
            Ok(0) => {}
            Ok(_) => delivered.notify_one(),
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
