//! The pipeline: every stored event becomes one pending delivery per receiver,
//! including events stored before a crash, and two replicas write each once.

use stripe_chatops::store::{self, Delivery, NewEvent};

use crate::support::*;

async fn deliveries(
    app: &TestApp,
    account: &str,
    event_id: &str,
    expected: usize,
) -> Vec<Delivery> {
    eventually(10, "deliveries", || async {
        let stored = app.state.store.event(account, event_id).await.unwrap()?;
        stored.routed_at_ms?;
        let found = app.state.store.deliveries_of(stored.seq).await.unwrap();
        (found.len() == expected).then_some(found)
    })
    .await
}

/// Receiver and route of each delivery (its status moves on as the outbox sends it).
fn names(deliveries: &[Delivery]) -> Vec<(String, String)> {
    deliveries
        .iter()
        .map(|d| (d.receiver.clone(), d.route.clone()))
        .collect()
}

#[tokio::test]
async fn each_event_gets_one_pending_delivery_per_receiver() {
    for backend in backends() {
        let database = TestDatabase::create(backend).await;
        let app = start_app(database, ROUTED).await;
        let dispute = event("charge.dispute.created");
        let payout = event("payout.paid");
        for e in [&dispute, &payout] {
            assert_eq!(app.post_event("/webhooks/stripe", e, SECRET).await.0, 200);
        }
        // A redelivery changes nothing.
        assert_eq!(
            app.post_event("/webhooks/stripe", &dispute, SECRET).await.0,
            200
        );

        let found = deliveries(&app, "default", dispute["id"].as_str().unwrap(), 2).await;
        assert_eq!(
            names(&found),
            [
                ("disputes".into(), "route.routes[0]".into()),
                ("finance".into(), "route.routes[1]".into())
            ],
            "{backend:?}"
        );
        let found = deliveries(&app, "default", payout["id"].as_str().unwrap(), 1).await;
        assert_eq!(
            names(&found),
            [("ops".into(), "route".into())],
            "{backend:?}"
        );
        app.stop().await;
    }
}

/// Events stored but not routed (the process died in between) are routed at start.
#[tokio::test]
async fn events_stored_before_a_crash_are_routed_at_start() {
    for backend in backends() {
        let database = TestDatabase::create(backend).await;
        let stored = store::open(&database.url, 2).await.unwrap();
        let mut ids = Vec::new();
        for event_type in [
            "invoice.payment_failed",
            "charge.dispute.created",
            "payout.failed",
        ] {
            let e = event(event_type);
            let id = e["id"].as_str().unwrap().to_owned();
            stored
                .insert_event(NewEvent {
                    account: "default".into(),
                    event_id: id.clone(),
                    event_type: event_type.into(),
                    livemode: false,
                    connect_account: None,
                    api_version: None,
                    created: now(),
                    received_at_ms: now() * 1000,
                    payload: e.to_string(),
                })
                .await
                .unwrap();
            ids.push(id);
        }
        assert_eq!(stored.unrouted_events(10).await.unwrap().len(), 3);
        drop(stored);

        let app = start_app(database, ROUTED).await;
        assert_eq!(
            names(&deliveries(&app, "default", &ids[0], 1).await)[0].0,
            "finance",
            "{backend:?}"
        );
        assert_eq!(
            deliveries(&app, "default", &ids[1], 2).await.len(),
            2,
            "{backend:?}"
        );
        assert_eq!(
            names(&deliveries(&app, "default", &ids[2], 1).await)[0].0,
            "ops",
            "{backend:?}"
        );
        assert!(
            app.state
                .store
                .unrouted_events(10)
                .await
                .unwrap()
                .is_empty()
        );
        app.stop().await;
    }
}

/// Two replicas on one PostgreSQL, both routing: each (event, receiver) is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_write_each_delivery_once() {
    if postgres_url().is_none() {
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let url = database.url.clone();
    let first = start_app(database, ROUTED).await;
    let second = start_app(TestDatabase::shared(&url), ROUTED).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let e = event(if i % 2 == 0 {
            "charge.dispute.created"
        } else {
            "invoice.paid"
        });
        // The same event to both replicas, as Stripe retries may land anywhere.
        assert_eq!(
            first.post_event("/webhooks/stripe", &e, SECRET).await.0,
            200
        );
        assert_eq!(
            second.post_event("/webhooks/stripe", &e, SECRET).await.0,
            200
        );
        ids.push((
            e["id"].as_str().unwrap().to_owned(),
            if i % 2 == 0 { 2 } else { 1 },
        ));
    }
    // `deliveries` waits for exactly the expected count: a doubled delivery would never match.
    for (id, expected) in &ids {
        deliveries(&first, "default", id, *expected).await;
    }
    let _ = second.halt().await;
    first.stop().await;
}
