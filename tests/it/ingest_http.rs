//! Every row of the webhook response table, through HTTP against `spawn_app()`.

use crate::support::*;

/// One row of the table: name, path, body, signature header, expected status, expected reason.
type Row<'a> = (&'a str, &'a str, Vec<u8>, Option<String>, u16, &'a str);

/// Each refused request gets its status and a precise reason, and stores nothing.
#[tokio::test]
async fn refused_requests_get_a_precise_status_and_store_nothing() {
    let app = spawn_app().await;
    let event = event("invoice.payment_failed");
    let body = serde_json::to_vec(&event).unwrap();
    let good = sign_now(&body, SECRET);
    let stale = sign_at(&body, SECRET, now() - 301);
    let not_an_event = br#"{"hello":"world"}"#.to_vec();
    let not_an_event_sig = sign_now(&not_an_event, SECRET);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("4900", "1");
    let oversized = vec![b' '; 65_537];
    let oversized_sig = sign_now(&oversized, SECRET);

    let cases: Vec<Row<'_>> = vec![
        (
            "no header",
            "/webhooks/stripe",
            body.clone(),
            None,
            400,
            "missing Stripe-Signature header",
        ),
        (
            "bad header",
            "/webhooks/stripe",
            body.clone(),
            Some("t=now,v1=abc".into()),
            400,
            "malformed Stripe-Signature header: timestamp is not a Unix time",
        ),
        (
            "header without v1",
            "/webhooks/stripe",
            body.clone(),
            Some(format!("t={}", now())),
            400,
            "malformed Stripe-Signature header: no v1 signature",
        ),
        (
            "wrong secret",
            "/webhooks/stripe",
            body.clone(),
            Some(sign_now(&body, EU_SECRET)),
            400,
            "no signature matches a configured webhook secret",
        ),
        (
            "tampered body",
            "/webhooks/stripe",
            tampered.into_bytes(),
            Some(good.clone()),
            400,
            "no signature matches a configured webhook secret",
        ),
        (
            "stale timestamp",
            "/webhooks/stripe",
            body.clone(),
            Some(stale),
            400,
            "timestamp outside the tolerance of 300 s",
        ),
        (
            "body over the limit",
            "/webhooks/stripe",
            oversized,
            Some(oversized_sig),
            413,
            "body is larger than the limit of 65536 bytes",
        ),
        (
            "valid signature, not an event",
            "/webhooks/stripe",
            not_an_event,
            Some(not_an_event_sig),
            400,
            "not a Stripe event: missing field `object`",
        ),
        (
            "unknown account",
            "/webhooks/stripe/nope",
            body.clone(),
            Some(good.clone()),
            404,
            "unknown account \"nope\"",
        ),
        (
            "root secret on the eu endpoint",
            "/webhooks/stripe/eu",
            body.clone(),
            Some(good.clone()),
            400,
            "no signature matches",
        ),
    ];
    for (name, path, body, signature, status, reason) in cases {
        let (got_status, text) = app.post_webhook(path, body, signature.as_deref()).await;
        assert_eq!(got_status, status, "{name}: {text}");
        assert!(
            text.starts_with(reason),
            "{name}: {text:?} should start with {reason:?}"
        );
        assert_eq!(app.stored().await, 0, "{name} stored something");
    }

    // Nothing stored, and yet the same event is accepted when it is genuine.
    assert_eq!(
        app.post_webhook("/webhooks/stripe", body, Some(&good))
            .await,
        (200, "stored\n".to_owned())
    );
    assert_eq!(app.stored().await, 1);
    app.stop().await;
}

/// A body streamed without Content-Length is still cut off at the limit.
#[tokio::test]
async fn chunked_body_over_the_limit_is_refused() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 8192])).collect();
    let stream = futures_util_stream(chunks);
    let (status, text) = app
        .post_webhook(
            "/webhooks/stripe",
            reqwest::Body::wrap_stream(stream),
            Some(&sign_now(b"{}", SECRET)),
        )
        .await;
    assert_eq!(status, 413, "{text}");
    assert_eq!(app.stored().await, 0);
    app.stop().await;
}

fn futures_util_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    tokio_stream::iter(chunks)
}

/// Genuine events are stored once per (account, id); duplicates get 200.
#[tokio::test]
async fn genuine_events_are_stored_once_and_duplicates_acknowledged() {
    let app = spawn_app().await;
    let event = event("charge.dispute.created");
    let id = event["id"].as_str().unwrap().to_owned();

    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await,
        (200, "stored\n".to_owned())
    );
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, ROTATED_SECRET)
            .await,
        (200, "duplicate: already stored\n".to_owned())
    );
    // The same event id on another account is another event.
    assert_eq!(
        app.post_event("/webhooks/stripe/eu", &event, EU_SECRET)
            .await,
        (200, "stored\n".to_owned())
    );
    assert_eq!(app.stored().await, 2);

    let stored = app
        .state
        .store
        .event("eu", &id)
        .await
        .unwrap()
        .expect("stored under eu");
    assert_eq!(stored.event.event_type, "charge.dispute.created");
    assert_eq!(stored.event.payload, serde_json::to_string(&event).unwrap());
    app.stop().await;
}

/// Unknown event types are kept, never errors.
#[tokio::test]
async fn unknown_event_types_are_stored() {
    let app = spawn_app().await;
    let mut event = event("invoice.paid");
    event["type"] = "billing.alert.triggered".into();
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );
    let listed = app.state.store.recent_events(5).await.unwrap();
    assert_eq!(listed[0].event.event_type, "billing.alert.triggered");
    app.stop().await;
}

/// Health, readiness and metrics answer, and metrics count what happened.
#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let get = |path: &str| {
        let request = app.client.get(app.url(path));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(get("/readyz").await, (200, "ready\n".to_owned()));

    let event = event("invoice.payment_failed");
    app.post_event("/webhooks/stripe", &event, SECRET).await;
    app.post_event("/webhooks/stripe", &event, SECRET).await;
    app.post_webhook("/webhooks/stripe", b"{}".to_vec(), Some("t=1,v1=00"))
        .await;
    app.post_webhook("/webhooks/stripe/ghost", b"{}".to_vec(), None)
        .await;

    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"stripe_chatops_webhook_events_total{account="default",event_type="invoice.payment_failed",outcome="stored"} 1"#,
        r#"stripe_chatops_webhook_events_total{account="default",event_type="invoice.payment_failed",outcome="duplicate"} 1"#,
        r#"stripe_chatops_webhook_rejections_total{account="default",reason="malformed_signature"} 1"#,
        r#"stripe_chatops_webhook_rejections_total{account="unknown",reason="unknown_account"} 1"#,
        r#"stripe_chatops_webhook_signature_failures_total{account="default"} 1"#,
        r#"stripe_chatops_http_request_duration_seconds_count{route="/webhooks/stripe",status="200"} 2"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in:\n{metrics}");
    }
    assert!(
        !metrics.contains("ghost"),
        "raw paths must not become labels"
    );
    app.stop().await;
}

/// Readiness turns 503 when the store is gone.
#[tokio::test]
async fn readiness_fails_when_the_store_is_unreachable() {
    let Some(_) = postgres_url() else { return };
    let app = spawn_app_with(Backend::Postgres).await;
    let ready = |app: &TestApp| {
        let request = app.client.get(app.url("/readyz"));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);
    // Terminate the app's connections and forbid new ones.
    let admin_url = postgres_url().unwrap();
    let name = app.database.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    assert_eq!(ready(&app).await, 503);
    app.stop().await;
}
