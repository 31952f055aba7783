//! Slow and idle clients cannot lock Stripe out: with hundreds of idle,
//! half-sent and slow-body connections open (more than `max_connections`),
//! a genuine signed event and `/healthz` are still answered, and each kind
//! of bad connection is closed by its own limit.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const LIMITS: &str = r#"
request_head_timeout = "1s"
request_body_timeout = "1s"
keep_alive_timeout = "500ms"
max_connections = 64
"#;

/// The test app with tight `[server]` limits.
async fn app() -> TestApp {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let text = config_text(&database.url, "").replacen(
        "max_body_bytes = 65536",
        &format!("max_body_bytes = 65536\n{LIMITS}"),
        1,
    );
    start_app_with_config(database, &text).await
}

/// Reads what the server sends until it closes the connection (or `within` passes).
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn idle_and_half_sent_connections_never_lock_out_a_genuine_event() {
    let app = app().await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(app.address).await.unwrap());
    }
    let mut half_head = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Le")
            .await
            .unwrap();
        half_head.push(stream);
    }
    let mut half_body = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
            .await
            .unwrap();
        half_body.push(stream);
    }

    // 320 bad connections against a cap of 64: the genuine ones still get in.
    let event = event("invoice.payment_failed");
    let (status, text) = tokio::time::timeout(
        Duration::from_secs(20),
        app.post_event("/webhooks/stripe", &event, SECRET),
    )
    .await
    .expect("a genuine event is answered while bad connections are open");
    assert_eq!((status, text.as_str()), (200, "stored\n"));
    let health = tokio::time::timeout(
        Duration::from_secs(20),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("/healthz is answered")
    .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        app.state
            .store
            .event("default", event["id"].as_str().unwrap())
            .await
            .unwrap()
            .is_some()
    );

    // Each bad connection is closed by the server: idle ones and half-sent
    // heads after their timeouts, slow bodies with 408.
    for stream in idle.iter_mut().chain(half_head.iter_mut()) {
        assert!(
            until_closed(stream, Duration::from_secs(20))
                .await
                .is_some(),
            "the server closes an idle or half-sent connection"
        );
    }
    for stream in &mut half_body {
        let answer = until_closed(stream, Duration::from_secs(20))
            .await
            .expect("the server closes a slow body");
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "a slow body gets 408: {answer:?}"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"reason="slow_body""#),
        "slow bodies are counted: {metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_kept_alive_connection_serves_several_requests_then_idles_out() {
    let app = app().await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 256];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    }
    assert!(
        until_closed(&mut stream, Duration::from_secs(20))
            .await
            .is_some(),
        "closed after keep_alive_timeout"
    );
    app.stop().await;
}
