//! Test support: `spawn_app()` on port 0 with a temporary database, and signing helpers.
//!
//! Every test gets its own store: a SQLite file in a temporary folder, or a
//! fresh PostgreSQL database (named `sct_…`) created on the server in
//! `TEST_POSTGRES_URL` and dropped when the test ends. Set `TEST_LOG=1` to see
//! the service's logs.

#![allow(dead_code)]

pub mod fakes;
pub mod peers;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};

use serde_json::Value;
use sqlx::Connection;
use stripe_chatops::AppState;
use stripe_chatops::config::{Environment, load_str};
use stripe_chatops::stripe::{sample, signature};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The signing secret of the root endpoint in every test config.
pub const SECRET: &str = "whsec_test_root_secret_0123456789";
/// A second, rotated-in secret of the root endpoint.
pub const ROTATED_SECRET: &str = "whsec_test_rotated_secret_abcdef";
/// The secret of the `eu` account.
pub const EU_SECRET: &str = "whsec_test_eu_secret_9876543210";

/// A route tree used by several tests: disputes to Discord (and on), invoices
/// and charges to Slack, everything else to the console. The platforms'
/// API hosts are a closed loopback port, so nothing leaves the machine and
/// the deliveries stay pending, retrying.
pub const ROUTED: &str = r#"
[slack]
bot_token = "xoxb-test-token"
api_base_url = "http://127.0.0.1:9/api"
[discord]
bot_token = "discord-test-token"
api_base_url = "http://127.0.0.1:9"
[[receivers]]
name = "finance"
slack = { channel = "C0FINANCE" }
[[receivers]]
name = "disputes"
discord = { channel_id = "123456789012345678" }
[[receivers]]
name = "ops"
console = {}
[route]
receiver = "ops"
[[route.routes]]
event_types = ["charge.dispute.*"]
receiver = "disputes"
continue = true
[[route.routes]]
event_types = ["invoice.*", "charge.*"]
receiver = "finance"
"#;

/// Which store backs an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on `TEST_POSTGRES_URL`.
    Postgres,
}

/// The PostgreSQL server for tests, when one is configured.
///
/// In CI (`CI` set; `.ci/run` sets it) a missing `TEST_POSTGRES_URL` is a
/// failure, not a skip: the PostgreSQL half of the suite must run there.
/// Elsewhere the PostgreSQL part of a test is skipped, and says so.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("CI must set TEST_POSTGRES_URL"),
        _ => {
            eprintln!(
                "skipping the PostgreSQL part of this test: TEST_POSTGRES_URL is not set \
                 (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

/// The backends to run a store test against: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        backends.push(Backend::Postgres);
    }
    backends
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            stripe_chatops::telemetry::init(stripe_chatops::telemetry::LogFormat::Text);
        }
    });
}

/// A database that exists for one test.
pub struct TestDatabase {
    /// The `[storage] url` to use.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates an empty database of the backend.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary folder");
                let url = format!("sqlite://{}", dir.path().join("events.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("TEST_POSTGRES_URL");
                let name = format!(
                    "sct_{}",
                    sample::random_id("db").to_lowercase().replace("db_", "")
                );
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("connect to TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let url = replace_database(&admin_url, &name);
                Self {
                    url,
                    _dir: None,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    /// Another handle on a database another app already uses; it drops nothing.
    pub fn shared(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: None,
            postgres: None,
        }
    }

    /// Drops a PostgreSQL test database (SQLite folders go with the value).
    pub async fn drop_database(self) {
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The config text of a test app: root endpoint with two secrets, and an `eu` account.
pub fn config_text(storage_url: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
max_body_bytes = 65536

[storage]
url = "{storage_url}"
max_connections = 4

[stripe]
webhook_secrets = ["{SECRET}", "{ROTATED_SECRET}"]
tolerance = "5m"

[stripe.accounts.eu]
display_name = "EU platform"
webhook_secrets = ["{EU_SECRET}"]
{extra}
"#
    )
}

/// `[delivery]` for tests of cases and schedules: quick retries, a short
/// lease, and a pace no test waits on (every platform's budget at 50/s).
pub const FAST: &str = r#"
[delivery]
retry_schedule = ["100ms", "300ms"]
give_up_after = "2m"
lease = "3s"
[delivery.slack]
per_destination = "50/s"
burst = 50
[delivery.discord]
per_destination = "50/s"
burst = 50
[delivery.telegram]
per_destination = "50/s"
burst = 50
per_group = "3000/m"
"#;

/// A running app.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its state (store, config, metrics).
    pub state: AppState,
    /// Its database.
    pub database: TestDatabase,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// What the console receiver printed.
    pub console: Arc<Mutex<Vec<u8>>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A console writer that appends to a shared buffer.
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts the app on 127.0.0.1:0 with a fresh SQLite store.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Backend::Sqlite).await
}

/// Starts the app on 127.0.0.1:0 with a fresh store of `backend`.
pub async fn spawn_app_with(backend: Backend) -> TestApp {
    let database = TestDatabase::create(backend).await;
    start_app(database, "").await
}

/// Starts the app on an existing test database, with `extra` appended to the test config.
pub async fn start_app(database: TestDatabase, extra: &str) -> TestApp {
    let text = config_text(&database.url, extra);
    start_app_with_config(database, &text).await
}

/// Starts the app on an existing test database with a whole config text.
pub async fn start_app_with_config(database: TestDatabase, text: &str) -> TestApp {
    init_logs();
    let config = load_str(text, &Environment::fixed([])).expect("test config is valid");
    let state = stripe_chatops::build_state(config)
        .await
        .expect("open store");
    start_app_with_state(database, state).await
}

/// Starts the app with a whole config text and a clock it shares with
/// the test (and with a restart of it, or a second replica).
pub async fn start_app_with_clock(
    database: TestDatabase,
    text: &str,
    clock: Arc<stripe_chatops::clock::Clock>,
) -> TestApp {
    init_logs();
    let config = load_str(text, &Environment::fixed([])).expect("test config is valid");
    let mut state = stripe_chatops::build_state(config)
        .await
        .expect("open store");
    state.clock = clock;
    start_app_with_state(database, state).await
}

/// Starts the app from a config file that it can reload (`POST /-/reload`).
pub async fn start_app_from_file(database: TestDatabase, path: &std::path::Path) -> TestApp {
    init_logs();
    let text = std::fs::read_to_string(path).expect("config file");
    let config = load_str(&text, &Environment::fixed([])).expect("test config is valid");
    let state = stripe_chatops::build_state_from_file(config, path, &text, Environment::fixed([]))
        .await
        .expect("open store");
    start_app_with_state(database, state).await
}

async fn start_app_with_state(database: TestDatabase, state: stripe_chatops::AppState) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = listener.local_addr().unwrap();
    let (shutdown, stop) = oneshot::channel::<()>();
    let console = Arc::new(Mutex::new(Vec::new()));
    let chats = stripe_chatops::chat::Chats::from_config(
        &state.config(),
        stripe_chatops::chat::console::Console::new(Arc::new(Mutex::new(Box::new(SharedBuffer(
            console.clone(),
        ))))),
    )
    .expect("chat adapters");
    let server = tokio::spawn(stripe_chatops::run_with(
        listener,
        state.clone(),
        chats,
        async move {
            let _ = stop.await;
        },
    ));
    TestApp {
        address,
        state,
        console,
        database,
        client: reqwest::Client::new(),
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl TestApp {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// POSTs a body with a `Stripe-Signature` header (or none) to a path.
    pub async fn post_webhook(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        signature: Option<&str>,
    ) -> (u16, String) {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        let response = request.send().await.expect("request reaches the app");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Posts an event signed with `secret` now.
    pub async fn post_event(&self, path: &str, event: &Value, secret: &str) -> (u16, String) {
        let body = serde_json::to_vec(event).unwrap();
        let header = sign_now(&body, secret);
        self.post_webhook(path, body, Some(&header)).await
    }

    /// Posts events to the root endpoint at once (32 at a time), each signed
    /// with [`SECRET`]; asserts every one was acknowledged and returns their ids.
    pub async fn post_all(&self, events: Vec<Value>) -> Vec<String> {
        let ids = events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        let permits = Arc::new(tokio::sync::Semaphore::new(32));
        let mut tasks = tokio::task::JoinSet::new();
        for event in events {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let body = serde_json::to_vec(&event).unwrap();
            let (client, url) = (self.client.clone(), self.url("/webhooks/stripe"));
            tasks.spawn(async move {
                let status = client
                    .post(url)
                    .header("stripe-signature", sign_now(&body, SECRET))
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                drop(permit);
                status
            });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
        ids
    }

    /// Presses a Slack button as `user`: a `block_actions` payload signed
    /// with `signing_secret`, its private notices going to `{slack}/response/{user}`.
    pub async fn slack_click(
        &self,
        slack: &str,
        signing_secret: &str,
        user: &str,
        token: &str,
    ) -> u16 {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": { "id": user, "username": user.to_lowercase() },
            "response_url": format!("{slack}/response/{user}"),
            "container": { "type": "message", "channel_id": "C0", "message_ts": "1700000000.000001" },
            "actions": [{ "type": "button", "action_id": "button", "value": token, "action_ts": "1700000001.0" }]
        });
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        self.slack_signed("/interactions/slack", body, signing_secret)
            .await
    }

    /// Posts a form `body` to `path` signed as Slack signs it; the status.
    pub async fn slack_signed(&self, path: &str, body: String, signing_secret: &str) -> u16 {
        let timestamp = now();
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header(
                "x-slack-signature",
                stripe_chatops::chat::slack::sign(signing_secret, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// What the console receiver printed so far.
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console.lock().unwrap()).into_owned()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Number of stored events.
    pub async fn stored(&self) -> u64 {
        self.state.store.count_events().await.expect("count events")
    }

    /// Stops the server gracefully and drops its database.
    pub async fn stop(self) {
        let database = self.halt().await;
        database.drop_database().await;
    }

    /// Stops the server gracefully and hands back its database, kept.
    pub async fn halt(mut self) -> TestDatabase {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
        self.database
    }
}

/// Polls `check` until it returns `Some`, or panics after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The current Unix time.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A `Stripe-Signature` for `body` at `timestamp`.
pub fn sign_at(body: &[u8], secret: &str, timestamp: i64) -> String {
    signature::sign(
        body,
        &[&stripe_chatops::config::Secret::new(secret)],
        timestamp,
    )
}

/// A `Stripe-Signature` for `body` now.
pub fn sign_now(body: &[u8], secret: &str) -> String {
    sign_at(body, secret, now())
}

/// A sample event of a type.
pub fn event(event_type: &str) -> Value {
    sample::sample_event(event_type, now()).expect("known sample type")
}
