//! Reloading `bot.toml` under load: a valid change applies to the next
//! event, an invalid one changes nothing and names its key, a change that
//! needs a restart is reported and keeps the running value, and every
//! acknowledged event is delivered exactly once throughout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use serde_json::Value;

use crate::support::*;

/// Cards posted to a generic webhook, by path (`first`, `second`), as event ids.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<(String, String)>>>);

impl Hooks {
    async fn start() -> (Self, SocketAddr) {
        let hooks = Self::default();
        let router = axum::Router::new()
            .route(
                "/{path}",
                axum::routing::post(
                    |State(hooks): State<Hooks>, Path(path): Path<String>, body: String| async move {
                        let id = body
                            .split("evt_")
                            .nth(1)
                            .map(|rest| {
                                let id: String = rest
                                    .chars()
                                    .take_while(|c| c.is_ascii_alphanumeric())
                                    .collect();
                                format!("evt_{id}")
                            })
                            .unwrap_or_default();
                        hooks.0.lock().unwrap().push((path, id));
                        "ok"
                    },
                ),
            )
            .with_state(hooks.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (hooks, address)
    }

    fn by_id(&self) -> HashMap<String, Vec<String>> {
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for (path, id) in self.0.lock().unwrap().iter() {
            seen.entry(id.clone()).or_default().push(path.clone());
        }
        seen
    }
}

/// A whole config: everything goes to the webhook at `/{target}`.
fn config(storage: &str, hooks: SocketAddr, target: &str, extra: &str) -> String {
    config_text(
        storage,
        &format!(
            r#"
[delivery.webhook]
per_destination = "1000/s"
burst = 100
global = "1000/s"

[[receivers]]
name = "first"
webhook = {{ url = "http://{hooks}/first" }}

[[receivers]]
name = "second"
webhook = {{ url = "http://{hooks}/second" }}

[route]
receiver = "{target}"
{extra}
"#
        ),
    )
}

/// Waits until the pipeline has routed `id` (and, routing in order, every
/// event stored before it), so that a reload comes after their routing.
async fn routed(app: &TestApp, id: &str) {
    eventually(10, "the events posted so far routed", || async {
        let stored = app.state.store.event("default", id).await.unwrap()?;
        stored.routed_at_ms.map(|_| ())
    })
    .await;
}

async fn reload(app: &TestApp, last: &[String]) -> (u16, Value) {
    if let Some(id) = last.last() {
        routed(app, id).await;
    }
    let response = app.client.post(app.url("/-/reload")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn post_some(app: &TestApp, count: usize, acknowledged: &mut Vec<String>) {
    for _ in 0..count {
        let event = event("charge.succeeded");
        let (status, _) = app.post_event("/webhooks/stripe", &event, SECRET).await;
        assert_eq!(status, 200);
        acknowledged.push(event["id"].as_str().unwrap().to_owned());
    }
}

#[tokio::test]
async fn valid_invalid_and_restart_only_reloads_under_load() {
    let (hooks, hooks_address) = Hooks::start().await;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(&path, config(&database.url, hooks_address, "first", "")).unwrap();
    let app = start_app_from_file(database, &path).await;
    let url = app.database.url.clone();

    // Load throughout: four posters send events while the config changes under them.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut posters = Vec::new();
    for _ in 0..4 {
        let (client, target, stopped) = (
            app.client.clone(),
            app.url("/webhooks/stripe"),
            stopped.clone(),
        );
        posters.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            while !*stopped.borrow() {
                let event = event("charge.succeeded");
                let body = serde_json::to_vec(&event).unwrap();
                let response = client
                    .post(&target)
                    .header("stripe-signature", sign_now(&body, SECRET))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200);
                acknowledged.push(event["id"].as_str().unwrap().to_owned());
            }
            acknowledged
        }));
    }

    let mut acknowledged = Vec::new();
    post_some(&app, 40, &mut acknowledged).await;

    // Unchanged: nothing to apply.
    let (status, report) = reload(&app, &acknowledged).await;
    assert_eq!(
        (status, report["result"].as_str()),
        (200, Some("unchanged"))
    );

    // Valid: the route now goes to `second`, for the next events.
    std::fs::write(&path, config(&url, hooks_address, "second", "")).unwrap();
    let (status, report) = reload(&app, &acknowledged).await;
    assert_eq!(
        (status, report["result"].as_str()),
        (200, Some("applied")),
        "{report}"
    );
    assert_eq!(report["generation"], 2);
    let after_valid = acknowledged.len();
    post_some(&app, 40, &mut acknowledged).await;

    // Invalid: refused with its key path; the running config stays.
    std::fs::write(
        &path,
        config(&url, hooks_address, "first", "recever = \"nobody\"\n"),
    )
    .unwrap();
    let (status, report) = reload(&app, &acknowledged).await;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["result"], "invalid");
    assert!(
        report["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("route.recever (line"),
        "{report}"
    );
    assert_eq!(report["generation"], 2, "the running config stays");
    post_some(&app, 40, &mut acknowledged).await;

    // Needs a restart: a new listen address is reported and not applied;
    // the rest of the change (back to `first`) is.
    let moved = config(&url, hooks_address, "first", "").replacen("127.0.0.1:0", "127.0.0.1:1", 1);
    std::fs::write(&path, moved).unwrap();
    let (status, report) = reload(&app, &acknowledged).await;
    assert_eq!(
        (status, report["result"].as_str()),
        (200, Some("applied")),
        "{report}"
    );
    assert_eq!(report["needs_restart"][0], "server: needs a restart");
    let after_restart_only = acknowledged.len();
    post_some(&app, 40, &mut acknowledged).await;
    assert_eq!(
        app.state.config().server.listen.port(),
        0,
        "the running listen address stays"
    );

    let _ = stop.send(true);
    let mut under_load = Vec::new();
    for poster in posters {
        under_load.extend(poster.await.unwrap());
    }
    assert!(
        under_load.len() > 50,
        "the posters ran: {}",
        under_load.len()
    );

    // Every acknowledged event is delivered exactly once, to the receiver
    // of the config in use when it was routed.
    let every: Vec<&String> = acknowledged.iter().chain(&under_load).collect();
    let seen = eventually(60, "every event delivered", || async {
        let seen = hooks.by_id();
        every
            .iter()
            .all(|id| seen.contains_key(*id))
            .then_some(seen)
    })
    .await;
    for id in &every {
        assert_eq!(seen[*id].len(), 1, "{id} delivered {:?}", seen[*id]);
    }
    for id in &acknowledged[after_valid..after_restart_only] {
        assert_eq!(seen[id], ["second"], "{id}: posted after the valid reload");
    }
    for id in &acknowledged[after_restart_only..] {
        assert_eq!(seen[id], ["first"], "{id}: posted after the last reload");
    }
    let metrics = app.metrics().await;
    for line in [
        r#"stripe_chatops_config_reload_total{result="applied"} 2"#,
        r#"stripe_chatops_config_reload_total{result="invalid"} 1"#,
        r#"stripe_chatops_config_reload_total{result="unchanged"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert_eq!(
        metrics.matches("stripe_chatops_config_info{hash=").count(),
        1,
        "one config in use"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_config_file_there_is_nothing_to_reload() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/-/reload")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    app.stop().await;
}
