//! The store suite, run against every backend: SQLite always, PostgreSQL when
//! `TEST_POSTGRES_URL` is set (always in CI).

use std::sync::Arc;

use stripe_chatops::store::{self, Inserted, NewDelivery, NewEvent, Routed, Store};

use crate::support::*;

fn new_event(account: &str, id: &str, received_at_ms: i64) -> NewEvent {
    NewEvent {
        account: account.to_owned(),
        event_id: id.to_owned(),
        event_type: "invoice.paid".to_owned(),
        livemode: true,
        connect_account: Some("acct_1Connect".to_owned()),
        api_version: Some("2025-03-31.basil".to_owned()),
        created: 1_763_251_200,
        received_at_ms,
        payload: format!(r#"{{"id":"{id}","object":"event","note":"Jenny Rosén ✓ \u00e9"}}"#),
    }
}

async fn open(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::create(backend).await;
    let store = store::open(&database.url, 4).await.expect("open store");
    (store, database)
}

#[tokio::test]
async fn insert_dedup_and_read_back() {
    for backend in backends() {
        let (store, database) = open(backend).await;
        let first = store
            .insert_event(new_event("default", "evt_1", 1000))
            .await
            .unwrap();
        let Inserted::New { seq } = first else {
            panic!("{backend:?}: first insert must be new")
        };
        assert_eq!(
            store
                .insert_event(new_event("default", "evt_1", 2000))
                .await
                .unwrap(),
            Inserted::Duplicate,
            "{backend:?}"
        );
        assert!(
            matches!(
                store
                    .insert_event(new_event("eu", "evt_1", 3000))
                    .await
                    .unwrap(),
                Inserted::New { .. }
            ),
            "{backend:?}"
        );
        assert_eq!(store.count_events().await.unwrap(), 2, "{backend:?}");

        let stored = store
            .event("default", "evt_1")
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(stored.seq, seq);
        // The first delivery wins; the payload comes back byte for byte.
        assert_eq!(
            stored.event,
            new_event("default", "evt_1", 1000),
            "{backend:?}"
        );
        assert_eq!(stored.routed_at_ms, None);
        assert!(
            store
                .event("default", "evt_missing")
                .await
                .unwrap()
                .is_none()
        );
        store.ping().await.unwrap();
        database.drop_database().await;
    }
}

#[tokio::test]
async fn recent_events_are_newest_first_and_limited() {
    for backend in backends() {
        let (store, database) = open(backend).await;
        for i in 0..5 {
            store
                .insert_event(new_event("default", &format!("evt_{i}"), i))
                .await
                .unwrap();
        }
        let recent = store.recent_events(3).await.unwrap();
        let ids: Vec<&str> = recent.iter().map(|e| e.event.event_id.as_str()).collect();
        assert_eq!(ids, ["evt_4", "evt_3", "evt_2"], "{backend:?}");
        database.drop_database().await;
    }
}

/// Many concurrent inserts of one event store exactly one row, on each backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_store_one_row() {
    for backend in backends() {
        let (store, database) = open(backend).await;
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .insert_event(new_event("default", "evt_same", i))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            if matches!(task.await.unwrap(), Inserted::New { .. }) {
                new += 1;
            }
        }
        assert_eq!(new, 1, "{backend:?}: exactly one insert wins");
        assert_eq!(store.count_events().await.unwrap(), 1, "{backend:?}");
        database.drop_database().await;
    }
}

/// The same through HTTP: concurrent deliveries of one event, one row, all 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_over_http() {
    for backend in backends() {
        let app = spawn_app_with(backend).await;
        let event = event("invoice.payment_failed");
        let body = serde_json::to_vec(&event).unwrap();
        let header = sign_now(&body, SECRET);
        let requests: Vec<_> = (0..40)
            .map(|_| {
                let request = app
                    .client
                    .post(app.url("/webhooks/stripe"))
                    .header("stripe-signature", header.clone())
                    .body(body.clone());
                tokio::spawn(async move { request.send().await.unwrap().text().await.unwrap() })
            })
            .collect();
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.unwrap());
        }
        assert_eq!(
            answers.iter().filter(|a| *a == "stored\n").count(),
            1,
            "{backend:?}: {answers:?}"
        );
        assert_eq!(
            answers
                .iter()
                .filter(|a| *a == "duplicate: already stored\n")
                .count(),
            39,
            "{backend:?}"
        );
        assert_eq!(app.stored().await, 1, "{backend:?}");
        app.stop().await;
    }
}

/// Many distinct events at once are all stored (the SQLite writer batches them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_distinct_events_are_all_stored() {
    for backend in backends() {
        let (store, database) = open(backend).await;
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .insert_event(new_event("default", &format!("evt_{i}"), i))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await.unwrap(), Inserted::New { .. }));
        }
        assert_eq!(store.count_events().await.unwrap(), 1000, "{backend:?}");
        database.drop_database().await;
    }
}

/// Opening an existing store again migrates nothing and keeps the data.
#[tokio::test]
async fn reopening_keeps_events_and_migrations_are_idempotent() {
    for backend in backends() {
        let database = TestDatabase::create(backend).await;
        {
            let store = store::open(&database.url, 2).await.unwrap();
            store
                .insert_event(new_event("default", "evt_kept", 1))
                .await
                .unwrap();
        }
        let store = store::open(&database.url, 2).await.unwrap();
        assert!(
            store.event("default", "evt_kept").await.unwrap().is_some(),
            "{backend:?}"
        );
        database.drop_database().await;
    }
}

/// Two replicas that decide the same routing at the same moment write each
/// delivery once, and the first `routed_at_ms` stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_routing_recorded_twice_at_once_writes_each_delivery_once() {
    for backend in backends() {
        let database = TestDatabase::create(backend).await;
        let first = store::open(&database.url, 2).await.unwrap();
        let second = store::open(&database.url, 2).await.unwrap();
        let Inserted::New { seq } = first
            .insert_event(new_event("default", "evt_r", 1))
            .await
            .unwrap()
        else {
            panic!("new event");
        };
        let decided = vec![Routed {
            seq,
            case_ids: vec!["in_r".into(), "pi_r".into()],
            deliveries: vec![
                NewDelivery::new("finance", "route.routes[0]"),
                NewDelivery::new("ops", "route"),
            ],
        }];
        let (a, b) = tokio::join!(
            first.record_routing(decided.clone(), 1_000),
            second.record_routing(decided.clone(), 2_000)
        );
        a.unwrap();
        b.unwrap();
        let written = first.deliveries_of(seq).await.unwrap();
        let receivers: Vec<&str> = written.iter().map(|d| d.receiver.as_str()).collect();
        assert_eq!(receivers, ["finance", "ops"], "{backend:?}");
        let routed_at = first
            .event("default", "evt_r")
            .await
            .unwrap()
            .unwrap()
            .routed_at_ms;
        assert!(
            matches!(routed_at, Some(1_000) | Some(2_000)),
            "{backend:?}: {routed_at:?}"
        );
        // Recording it again later changes nothing.
        first.record_routing(decided, 3_000).await.unwrap();
        assert_eq!(first.deliveries_of(seq).await.unwrap().len(), 2);
        assert_eq!(
            first
                .event("default", "evt_r")
                .await
                .unwrap()
                .unwrap()
                .routed_at_ms,
            routed_at
        );
        assert!(first.unrouted_events(10).await.unwrap().is_empty());
        drop((first, second));
        database.drop_database().await;
    }
}

#[tokio::test]
async fn in_memory_sqlite_is_refused() {
    let error = store::open("sqlite::memory:", 1)
        .await
        .err()
        .expect("refused");
    assert!(
        error
            .to_string()
            .contains("in-memory SQLite database would lose events"),
        "{error}"
    );
}

#[tokio::test]
async fn payment_requests_are_recorded_once_and_each_link_claimed_once() {
    for backend in backends() {
        let (store, database) = open(backend).await;
        let request = store::PaymentRequest {
            request_id: "req_abc".to_owned(),
            platform: "slack".to_owned(),
            asker: "slack:U1".to_owned(),
            asker_name: "@alice".to_owned(),
            receiver: "support".to_owned(),
            account: "default".to_owned(),
            amount_minor: 4999,
            currency: "eur".to_owned(),
            description: "Support deposit".to_owned(),
            customer: Some("jenny@example.com".to_owned()),
            ttl_secs: 86_400,
            status: "pending".to_owned(),
            links: 0,
            session_id: None,
            url: None,
            outcome: None,
            created_at_ms: 1_000,
            updated_at_ms: 1_000,
        };
        let (stored, new) = store.open_request(&request).await.unwrap();
        assert!(new, "{backend:?}");
        assert_eq!(stored, request, "{backend:?}");
        // The same command again: the row it already has.
        let mut again = request.clone();
        again.amount_minor = 1;
        let (stored, new) = store.open_request(&again).await.unwrap();
        assert!(!new, "{backend:?}");
        assert_eq!(stored.amount_minor, 4999, "{backend:?}");

        // Link 1 is claimed once; link 2 not before link 1 exists.
        assert!(
            !store.claim_link("req_abc", 2, 2_000).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            store.claim_link("req_abc", 1, 2_000).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            !store.claim_link("req_abc", 1, 2_001).await.unwrap(),
            "{backend:?}"
        );
        // A claim left by a process that died is taken over after a minute.
        assert!(
            store.claim_link("req_abc", 1, 70_000).await.unwrap(),
            "{backend:?}"
        );
        store
            .link_created(
                "req_abc",
                1,
                "cs_1",
                "https://checkout.stripe.com/c/pay/cs_1",
                70_001,
            )
            .await
            .unwrap();
        assert!(
            !store.claim_link("req_abc", 1, 80_000).await.unwrap(),
            "{backend:?}"
        );
        assert!(
            !store
                .cancel_request("req_abc", "slack:U1", 80_000)
                .await
                .unwrap(),
            "an open request is not cancelled: {backend:?}"
        );

        // Expired, then link 2, then paid; paid stays paid.
        assert!(
            store
                .settle_request("req_abc", 1, "expired", "expired", 90_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .settle_request("req_abc", 1, "expired", "expired", 90_001)
                .await
                .unwrap(),
            "once: {backend:?}"
        );
        assert!(
            store.claim_link("req_abc", 2, 91_000).await.unwrap(),
            "{backend:?}"
        );
        store
            .link_created(
                "req_abc",
                2,
                "cs_2",
                "https://checkout.stripe.com/c/pay/cs_2",
                91_001,
            )
            .await
            .unwrap();
        // A late word about link 1 does not count once link 2 exists.
        assert!(
            !store
                .settle_request("req_abc", 1, "expired", "late", 91_500)
                .await
                .unwrap(),
            "{backend:?}"
        );
        assert!(
            store
                .settle_request("req_abc", 2, "paid", "paid", 92_000)
                .await
                .unwrap()
        );
        assert!(
            !store
                .settle_request("req_abc", 1, "expired", "late", 93_000)
                .await
                .unwrap(),
            "{backend:?}"
        );
        let row = store.payment_request("req_abc").await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.links, row.session_id.as_deref()),
            ("paid", 2, Some("cs_2")),
            "{backend:?}"
        );

        // A pending request is cancelled by its asker only.
        let mut other = request.clone();
        other.request_id = "req_def".to_owned();
        store.open_request(&other).await.unwrap();
        assert!(
            !store
                .cancel_request("req_def", "slack:U2", 1)
                .await
                .unwrap(),
            "{backend:?}"
        );
        assert!(
            store
                .cancel_request("req_def", "slack:U1", 1)
                .await
                .unwrap(),
            "{backend:?}"
        );
        assert!(
            !store.claim_link("req_def", 1, 2).await.unwrap(),
            "cancelled: {backend:?}"
        );
        assert_eq!(
            store.payment_requests(10).await.unwrap().len(),
            2,
            "{backend:?}"
        );
        drop(store);
        database.drop_database().await;
    }
}
