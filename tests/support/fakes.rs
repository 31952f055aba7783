//! Fake Slack, Discord and Telegram HTTP servers on 127.0.0.1.
//!
//! Each enforces its platform's documented rate limits and payload limits
//! (`../shared/PLATFORMS.md`) and answers with the platform's real error
//! shapes: Slack `ok:false` and 429 with `Retry-After`; Discord 429 JSON with
//! `retry_after` plus the `X-RateLimit-*` bucket headers; Telegram
//! `ok:false` with `parameters.retry_after`. Tests can inject faults: a
//! number of 5xx answers, a 429 storm, or the server going away entirely
//! (connection refused) and coming back on the same port.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The bot token every fake accepts.
pub const SLACK_TOKEN: &str = "xoxb-test-token";
/// The Discord bot token the fake accepts.
pub const DISCORD_TOKEN: &str = "discord-test-token";
/// The Telegram bot token the fake accepts.
pub const TELEGRAM_TOKEN: &str = "123456:TEST-token";

/// One request a fake accepted and acted on.
#[derive(Debug, Clone)]
pub struct Received {
    /// The API method (`chat.postMessage`, `sendMessage`, `create`, `edit`…).
    pub method: String,
    /// The channel or chat.
    pub channel: String,
    /// The request body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

/// State shared by a fake's handlers and the test.
#[derive(Default)]
pub struct FakeState {
    /// Accepted messages, in arrival order.
    pub received: Mutex<Vec<Received>>,
    /// Every request, including refused ones, with its status.
    pub requests: Mutex<Vec<(Instant, u16)>>,
    /// 429 answers given.
    pub throttled: AtomicU64,
    /// Answer the next N requests with 500.
    pub fail_next: AtomicU64,
    /// Answer the next N requests with 429.
    pub throttle_next: AtomicU64,
    /// The `Retry-After` of injected 429s, in seconds.
    pub storm_retry_after: AtomicU64,
    /// Message ids handed out.
    next_id: AtomicU64,
    /// Sliding windows of send times, by key.
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Discord nonces seen, with the message id they created.
    nonces: Mutex<HashMap<String, u64>>,
    /// Discord threads started from a message (their id is the message's).
    pub threads: Mutex<HashSet<String>>,
    /// Discord message ids handed out.
    discord_messages: Mutex<HashSet<String>>,
    /// Channels that do not exist.
    pub missing: Mutex<HashSet<String>>,
    /// Slack messages (ts) deleted by someone in the channel.
    pub deleted: Mutex<HashSet<String>>,
    /// The Socket Mode WebSocket URL `apps.connections.open` hands out.
    pub ws_url: Mutex<Option<String>>,
    /// Telegram updates waiting for `getUpdates`.
    pub updates: Mutex<VecDeque<Value>>,
    /// Enforce no rate limit (for latency measurements where no budget is the bottleneck).
    pub unlimited: std::sync::atomic::AtomicBool,
    /// Stripe objects by id, as `GET /v1/{collection}/{id}` returns them.
    pub objects: Mutex<HashMap<String, Value>>,
    /// Stripe events, as `GET /v1/events` lists them (newest first by `created`).
    pub events: Mutex<Vec<Value>>,
    /// Stripe reads (GETs), apart from the writes in `received`.
    pub read_log: Mutex<Vec<Received>>,
    /// Stall the next N Stripe reads.
    pub stall_next: AtomicU64,
    /// How long a stalled read stalls, in milliseconds.
    pub stall_ms: AtomicU64,
    /// Files received (Slack's upload URL, Discord attachments, Telegram
    /// photos), by file id or name.
    pub files: Mutex<HashMap<String, Vec<u8>>>,
}

impl FakeState {
    /// Accepted messages so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Accepted messages of one method.
    pub fn posts(&self, method: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == method)
            .collect()
    }

    fn record(&self, status: u16) {
        self.requests.lock().unwrap().push((Instant::now(), status));
        if status == 429 {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn accept(&self, method: &str, channel: &str, body: Value) -> u64 {
        self.received.lock().unwrap().push(Received {
            method: method.to_owned(),
            channel: channel.to_owned(),
            body,
            at: Instant::now(),
        });
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Takes one injected fault: `Some(500)` or `Some(429)`.
    fn injected(&self) -> Option<u16> {
        let take = |counter: &AtomicU64| {
            counter
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        };
        if take(&self.fail_next) {
            Some(500)
        } else if take(&self.throttle_next) {
            Some(429)
        } else {
            None
        }
    }

    /// Admits a send under "at most `limit` per `window`" for `key`; on
    /// refusal returns how long until a slot frees.
    fn admit(&self, key: &str, limit: usize, window: Duration) -> Result<(), Duration> {
        if self.unlimited.load(Ordering::Relaxed) {
            return Ok(());
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap();
        let times = windows.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= limit {
            let oldest = *times.front().unwrap();
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }

    /// How many sends `key` has in its current window.
    fn used(&self, key: &str, window: Duration) -> usize {
        if self.unlimited.load(Ordering::Relaxed) {
            return 0;
        }
        let now = Instant::now();
        self.windows.lock().unwrap().get(key).map_or(0, |t| {
            t.iter()
                .filter(|t| now.duration_since(**t) < window)
                .count()
        })
    }
}

/// A running fake.
pub struct Fake {
    /// Where it listens.
    pub address: SocketAddr,
    /// What it saw.
    pub state: Arc<FakeState>,
    router: Router,
    server: Option<JoinHandle<()>>,
}

impl Fake {
    async fn start(router: Router, state: Arc<FakeState>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = Some(tokio::spawn(serve(listener, router.clone())));
        Self {
            address,
            state,
            router,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Goes away: new connections are refused until [`Fake::restart`].
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Comes back on the same port.
    pub async fn restart(&mut self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.server = Some(tokio::spawn(serve(listener, self.router.clone())));
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, router: Router) {
    let _ = axum::serve(listener, router).await;
}

fn json_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// One part of a `multipart/form-data` body: its name, file name and bytes.
pub struct Part {
    /// The form field's name.
    pub name: String,
    /// The file name, for a file.
    pub filename: Option<String>,
    /// The content.
    pub data: Vec<u8>,
}

/// Splits a `multipart/form-data` body (as reqwest sends it) into parts;
/// `None` when the request is not multipart.
pub fn multipart(headers: &HeaderMap, body: &[u8]) -> Option<Vec<Part>> {
    let content_type = headers.get("content-type")?.to_str().ok()?;
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |haystack: &[u8], needle: &[u8], from: usize| {
        haystack[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut parts = Vec::new();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    while let Some(next) = find(body, &delimiter, at) {
        let chunk = &body[at..next];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        if let Some(split) = find(chunk, b"\r\n\r\n", 0) {
            let head = String::from_utf8_lossy(&chunk[..split]).to_string();
            let disposition = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
                .unwrap_or_default()
                .to_owned();
            let field = |key: &str| {
                disposition.split(';').find_map(|p| {
                    p.trim()
                        .strip_prefix(&format!("{key}="))
                        .map(|v| v.trim_matches('"').to_owned())
                })
            };
            parts.push(Part {
                name: field("name").unwrap_or_default(),
                filename: field("filename"),
                data: chunk[split + 4..].to_vec(),
            });
        }
        at = next + delimiter.len();
    }
    Some(parts)
}

/// Whether bytes are a PNG (its signature).
pub fn is_png(data: &[u8]) -> bool {
    data.starts_with(b"\x89PNG\r\n\x1a\n")
}

// ---------------------------------------------------------------- Slack

/// Slack: about 1 message a second per channel, short bursts of 3 tolerated.
pub const SLACK_PER_CHANNEL: (usize, Duration) = (3, Duration::from_secs(3));

/// A fake Slack Web API under `/api`, plus an incoming webhook at `/hooks/T/B/X`.
pub async fn slack() -> Fake {
    let state = Arc::new(FakeState::default());
    let router = Router::new()
        .route("/api/{method}", post(slack_method).get(slack_get_method))
        .route("/upload/{file_id}", post(slack_upload))
        .route("/hooks/{a}/{b}/{c}", post(slack_hook))
        .route("/response/{id}", post(slack_response))
        .with_state(state.clone());
    Fake::start(router, state).await
}

fn slack_error(error: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "ok": false, "error": error })),
    )
        .into_response()
}

fn slack_blocks_problem(body: &Value) -> Option<&'static str> {
    let blocks = body.get("blocks").and_then(Value::as_array)?;
    if blocks.len() > 50 {
        return Some("invalid_blocks");
    }
    for block in blocks {
        let text_len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        match block.get("type").and_then(Value::as_str) {
            Some("header") if text_len(&block["text"]["text"]) > 150 => {
                return Some("invalid_blocks");
            }
            Some("section") if text_len(&block["text"]["text"]) > 3000 => {
                return Some("invalid_blocks");
            }
            Some("actions") => {
                for element in block["elements"].as_array().into_iter().flatten() {
                    if text_len(&element["text"]["text"]) > 75
                        || text_len(&element["action_id"]) > 255
                    {
                        return Some("invalid_blocks");
                    }
                }
            }
            _ => {}
        }
    }
    None
}

async fn slack_method(
    State(state): State<Arc<FakeState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(status) = state.injected() {
        state.record(status);
        return slack_fault(&state, status);
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if method == "apps.connections.open" {
        let url = state.ws_url.lock().unwrap().clone();
        return match url {
            Some(url) if auth.starts_with("Bearer xapp-") => {
                axum::Json(json!({ "ok": true, "url": url })).into_response()
            }
            _ => slack_error("invalid_auth"),
        };
    }
    if auth != format!("Bearer {SLACK_TOKEN}") {
        state.record(200);
        return slack_error("invalid_auth");
    }
    let body = json_body(&body);
    let channel = body["channel"].as_str().unwrap_or_default().to_owned();
    if state.missing.lock().unwrap().contains(&channel) {
        state.record(200);
        return slack_error("channel_not_found");
    }
    if let Some(problem) = slack_blocks_problem(&body) {
        state.record(200);
        return slack_error(problem);
    }
    match method.as_str() {
        "chat.postMessage" => {
            let (limit, window) = SLACK_PER_CHANNEL;
            if let Err(wait) = state.admit(&format!("slack:{channel}"), limit, window) {
                state.record(429);
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", seconds.to_string())],
                    axum::Json(json!({ "ok": false, "error": "ratelimited" })),
                )
                    .into_response();
            }
            state.record(200);
            let id = state.accept("chat.postMessage", &channel, body.clone());
            let ts = format!("1700000000.{id:06}");
            axum::Json(json!({
                "ok": true,
                "channel": channel,
                "ts": ts,
                "message": { "type": "message", "ts": ts, "text": body["text"], "bot_id": "B0FAKE" }
            }))
            .into_response()
        }
        "files.completeUploadExternal" => {
            state.record(200);
            let channel = body["channel_id"].as_str().unwrap_or_default().to_owned();
            let files = body["files"].as_array().cloned().unwrap_or_default();
            // Only a file whose bytes reached its upload URL can be completed.
            for file in &files {
                let id = file["id"].as_str().unwrap_or_default();
                if !state.files.lock().unwrap().contains_key(id) {
                    return slack_error("file_not_found");
                }
            }
            state.accept("files.completeUploadExternal", &channel, body.clone());
            axum::Json(json!({ "ok": true, "files": files })).into_response()
        }
        "views.open" => {
            state.record(200);
            // Slack's limits on a modal: a title and buttons of 24 characters, 100 blocks.
            let view = &body["view"];
            let short = |v: &Value| v["text"].as_str().is_some_and(|t| t.chars().count() <= 24);
            if body["trigger_id"].as_str().unwrap_or_default().is_empty() {
                return slack_error("invalid_trigger_id");
            }
            if view["type"] != "modal"
                || !short(&view["title"])
                || !short(&view["submit"])
                || view["blocks"]
                    .as_array()
                    .is_none_or(|b| b.is_empty() || b.len() > 100)
            {
                return slack_error("invalid_arguments");
            }
            state.accept("views.open", "", body.clone());
            axum::Json(json!({ "ok": true, "view": { "id": "V0FORM1" } })).into_response()
        }
        "chat.update" => {
            state.record(200);
            let ts = body["ts"].as_str().unwrap_or_default();
            if state.deleted.lock().unwrap().contains(ts) {
                return slack_error("message_not_found");
            }
            state.accept("chat.update", &channel, body.clone());
            axum::Json(json!({ "ok": true, "channel": channel, "ts": body["ts"], "text": body["text"],
                "message": { "type": "message", "ts": body["ts"], "text": body["text"], "bot_id": "B0FAKE" } }))
                .into_response()
        }
        _ => {
            state.record(200);
            slack_error("unknown_method")
        }
    }
}

/// Slack's GET methods: `files.getUploadURLExternal` (filename, length)
/// hands out an upload URL on this fake and a file id.
async fn slack_get_method(
    State(state): State<Arc<FakeState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {SLACK_TOKEN}") {
        state.record(200);
        return slack_error("invalid_auth");
    }
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if method != "files.getUploadURLExternal" {
        return slack_error("unknown_method");
    }
    let (Some(filename), Some(length)) = (
        query.get("filename"),
        query.get("length").and_then(|l| l.parse::<usize>().ok()),
    ) else {
        return slack_error("invalid_arguments");
    };
    state.record(200);
    let id = state.accept(
        "files.getUploadURLExternal",
        "",
        json!({ "filename": filename, "length": length }),
    );
    let file_id = format!("F{id:08}");
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    axum::Json(json!({
        "ok": true,
        "upload_url": format!("http://{host}/upload/{file_id}"),
        "file_id": file_id,
    }))
    .into_response()
}

/// The upload URL: the file's bytes, raw or as a multipart `file` field.
async fn slack_upload(
    State(state): State<Arc<FakeState>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let data = match multipart(&headers, &body) {
        Some(parts) => parts.into_iter().next().map(|p| p.data).unwrap_or_default(),
        None => body.to_vec(),
    };
    state.record(200);
    let length = data.len();
    state.accept(
        "upload",
        "",
        json!({ "file_id": file_id, "length": length, "png": is_png(&data) }),
    );
    state.files.lock().unwrap().insert(file_id, data);
    (StatusCode::OK, format!("OK - {length}")).into_response()
}

fn slack_fault(state: &FakeState, status: u16) -> Response {
    if status == 429 {
        let seconds = state.storm_retry_after.load(Ordering::Relaxed).max(1);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.to_string())],
            axum::Json(json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
    }
    (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response()
}

async fn slack_hook(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    if let Some(status) = state.injected() {
        state.record(status);
        return slack_fault(&state, status);
    }
    state.record(200);
    state.accept("webhook", "hook", json_body(&body));
    (StatusCode::OK, "ok").into_response()
}

/// A `response_url`: ephemeral notices land here.
async fn slack_response(
    State(state): State<Arc<FakeState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    state.record(200);
    state.accept("response", &id, json_body(&body));
    (StatusCode::OK, "ok").into_response()
}

// --------------------------------------------------------------- Stripe

/// The secret key the fake Stripe accepts.
pub const STRIPE_KEY: &str = "sk_test_fake_0123456789";

/// A fake Stripe API: invoice actions, with idempotency as Stripe keeps it
/// (the first answer of a key is replayed) and an optional card decline.
pub async fn stripe() -> Fake {
    let state = Arc::new(FakeState::default());
    let router = Router::new()
        .route("/v1/invoices/{id}/{verb}", post(stripe_invoice_action))
        .route("/v1/checkout/sessions", post(stripe_create_session))
        .route(
            "/v1/checkout/sessions/{id}/line_items",
            get(stripe_session_line_items),
        )
        .route("/v1/events", get(stripe_list_events))
        .route("/v1/customers", get(stripe_list_customers))
        .route("/v1/{collection}/{id}", get(stripe_object))
        .with_state(state.clone());
    Fake::start(router, state).await
}

impl FakeState {
    /// Puts a Stripe object where `GET /v1/{collection}/{id}` finds it.
    pub fn put_object(&self, object: Value) {
        let id = object["id"].as_str().unwrap().to_owned();
        self.objects.lock().unwrap().insert(id, object);
    }

    /// Stripe reads (GETs) asked so far, by path.
    pub fn reads(&self) -> Vec<String> {
        self.read_log
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.channel.clone())
            .collect()
    }

    /// Stripe reads asked so far, with their query and headers.
    pub fn read_requests(&self) -> Vec<Received> {
        self.read_log.lock().unwrap().clone()
    }
}

/// A Stripe read: the key checked, faults injected (a stall, a 500, a 429
/// with `Retry-After`), the request recorded as `GET` with its path.
async fn stripe_read(
    state: &FakeState,
    headers: &HeaderMap,
    path: &str,
    query: &HashMap<String, String>,
) -> Option<Response> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {STRIPE_KEY}")) {
        state.record(401);
        return Some((StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }))).into_response());
    }
    let version = headers
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state.read_log.lock().unwrap().push(Received {
        method: "GET".to_owned(),
        channel: path.to_owned(),
        body: json!({ "query": query, "stripe_version": version }),
        at: Instant::now(),
    });
    if state
        .stall_next
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        tokio::time::sleep(Duration::from_millis(
            state.stall_ms.load(Ordering::Relaxed),
        ))
        .await;
    }
    match state.injected() {
        Some(429) => {
            state.record(429);
            let wait = state.storm_retry_after.load(Ordering::Relaxed).max(1);
            return Some((
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", wait.to_string())],
                axum::Json(json!({ "error": { "type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests" } })),
            )
                .into_response());
        }
        Some(status) => {
            state.record(status);
            return Some((
                StatusCode::from_u16(status).unwrap(),
                axum::Json(json!({ "error": { "type": "api_error", "message": "Something went wrong on Stripe's end." } })),
            )
                .into_response());
        }
        None => {}
    }
    state.record(200);
    None
}

fn query_map(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

async fn stripe_object(
    State(state): State<Arc<FakeState>>,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(query);
    let path = format!("/v1/{collection}/{id}");
    if let Some(refused) = stripe_read(&state, &headers, &path, &query).await {
        return refused;
    }
    match state.objects.lock().unwrap().get(&id) {
        Some(object) => axum::Json(object.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": { "type": "invalid_request_error", "code": "resource_missing", "message": format!("No such object: '{id}'") } })),
        )
            .into_response(),
    }
}

async fn stripe_list_customers(
    State(state): State<Arc<FakeState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(query);
    if let Some(refused) = stripe_read(&state, &headers, "/v1/customers", &query).await {
        return refused;
    }
    let email = query.get("email").cloned().unwrap_or_default();
    let data: Vec<Value> = state
        .objects
        .lock()
        .unwrap()
        .values()
        .filter(|o| o["object"] == "customer" && o["email"] == email.as_str())
        .cloned()
        .collect();
    axum::Json(json!({ "object": "list", "data": data, "has_more": false })).into_response()
}

/// `GET /v1/events`: `created[gte]`, `limit` and `starting_after`, newest first.
async fn stripe_list_events(
    State(state): State<Arc<FakeState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(query);
    if let Some(refused) = stripe_read(&state, &headers, "/v1/events", &query).await {
        return refused;
    }
    let since: i64 = query
        .get("created[gte]")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .clamp(1, 100);
    let mut events: Vec<Value> = state
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["created"].as_i64().unwrap_or(0) >= since)
        .cloned()
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e["created"].as_i64().unwrap_or(0)));
    if let Some(after) = query.get("starting_after") {
        let position = events.iter().position(|e| e["id"] == after.as_str());
        events = match position {
            Some(at) => events.split_off(at + 1),
            None => Vec::new(),
        };
    }
    let has_more = events.len() > limit;
    events.truncate(limit);
    axum::Json(
        json!({ "object": "list", "url": "/v1/events", "data": events, "has_more": has_more }),
    )
    .into_response()
}

async fn stripe_invoice_action(
    State(state): State<Arc<FakeState>>,
    Path((id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if header("authorization") != Some(format!("Bearer {STRIPE_KEY}")) {
        state.record(401);
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }))).into_response();
    }
    let key = header("idempotency-key").unwrap_or_default();
    let replay = state.nonces.lock().unwrap().get(&key).copied();
    let number = match replay {
        Some(number) => number,
        None => {
            let number = state.accept(
                &verb,
                &id,
                json!({
                    "idempotency_key": key,
                    "stripe_account": header("stripe-account"),
                    "form": String::from_utf8_lossy(&body),
                }),
            );
            state.nonces.lock().unwrap().insert(key, number);
            number
        }
    };
    state.record(200);
    let request_id = format!("req_fake{number}");
    if state.missing.lock().unwrap().contains("decline") {
        return (
            StatusCode::PAYMENT_REQUIRED,
            [("request-id", request_id)],
            axum::Json(json!({ "error": { "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds." } })),
        )
            .into_response();
    }
    let status = match verb.as_str() {
        "pay" => "paid",
        "void" => "void",
        "mark_uncollectible" => "uncollectible",
        _ => "open",
    };
    (
        [("request-id", request_id)],
        axum::Json(json!({ "id": id, "object": "invoice", "status": status })),
    )
        .into_response()
}

/// `POST /v1/checkout/sessions`, checked as Stripe checks it: the key, the
/// form fields of a one-off payment (`mode`, one line item with
/// `price_data`), `expires_at` within 30 minutes to 24 hours, not both
/// `customer` and `customer_email`, Stripe's $0.50 minimum. An
/// `Idempotency-Key` seen before gets the first answer again.
async fn stripe_create_session(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if header("authorization") != Some(format!("Bearer {STRIPE_KEY}")) {
        state.record(401);
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }))).into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let key = header("idempotency-key").unwrap_or_default();
    let replay = state.nonces.lock().unwrap().get(&key).copied();
    if let Some(number) = replay {
        state.record(200);
        let id = format!("cs_test_fake{number}");
        let session = state.objects.lock().unwrap().get(&id).cloned();
        return (
            [
                ("request-id", format!("req_fake{number}")),
                ("idempotent-replayed", "true".to_owned()),
            ],
            axum::Json(session),
        )
            .into_response();
    }
    let invalid = |message: &str, param: &str| {
        state.record(400);
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": { "type": "invalid_request_error", "message": message, "param": param } })),
        )
            .into_response()
    };
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("mode") != "payment" {
        return invalid("Missing required param: mode.", "mode");
    }
    let currency = field("line_items[0][price_data][currency]");
    let Ok(unit) = field("line_items[0][price_data][unit_amount]").parse::<i64>() else {
        return invalid(
            "Invalid integer: unit_amount",
            "line_items[0][price_data][unit_amount]",
        );
    };
    let name = field("line_items[0][price_data][product_data][name]");
    let quantity: i64 = field("line_items[0][quantity]").parse().unwrap_or(0);
    if currency.len() != 3 || name.is_empty() || quantity < 1 {
        return invalid(
            "Missing required param: line_items[0][price_data].",
            "line_items",
        );
    }
    if matches!(currency.as_str(), "usd" | "eur") && unit < 50 {
        return invalid(
            "The Checkout Session's total amount due must add up to at least $0.50 usd",
            "line_items",
        );
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at: i64 = field("expires_at").parse().unwrap_or(now + 86_400);
    if expires_at < now + 1800 || expires_at > now + 86_400 {
        return invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            "expires_at",
        );
    }
    if form.contains_key("customer") && form.contains_key("customer_email") {
        return invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            "customer_email",
        );
    }
    let number = state.accept(
        "checkout.sessions.create",
        &currency,
        json!({ "idempotency_key": key, "form": form }),
    );
    state.nonces.lock().unwrap().insert(key, number);
    state.record(200);
    let id = format!("cs_test_fake{number}");
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), Value::String(v.clone())))
        })
        .collect();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "url": format!("https://checkout.stripe.com/c/pay/{id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"),
        "amount_total": unit * quantity,
        "amount_subtotal": unit * quantity,
        "currency": currency,
        "customer": form.get("customer"),
        "customer_email": form.get("customer_email"),
        "customer_details": null,
        "expires_at": expires_at,
        "created": now,
        "metadata": metadata,
        "mode": "payment",
        "payment_status": "unpaid",
        "status": "open",
        "livemode": false,
        "after_expiration": { "recovery": { "enabled": form.get("after_expiration[recovery][enabled]").is_some_and(|v| v == "true"), "allow_promotion_codes": false, "url": null } },
        "line_items": null,
    });
    state
        .objects
        .lock()
        .unwrap()
        .insert(id.clone(), session.clone());
    (
        [("request-id", format!("req_fake{number}"))],
        axum::Json(session),
    )
        .into_response()
}

/// `GET /v1/checkout/sessions/{id}/line_items`: the one item of a session
/// made here, or of a session put with `put_object` (its `line_items`).
async fn stripe_session_line_items(
    State(state): State<Arc<FakeState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query_map(query);
    let path = format!("/v1/checkout/sessions/{id}/line_items");
    if let Some(refused) = stripe_read(&state, &headers, &path, &query).await {
        return refused;
    }
    match state.objects.lock().unwrap().get(&id) {
        Some(session) => {
            let data = session["line_items"]["data"].clone();
            axum::Json(json!({ "object": "list", "data": if data.is_array() { data } else { json!([]) }, "has_more": session["line_items"]["has_more"].as_bool().unwrap_or(false), "url": path })).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": { "type": "invalid_request_error", "code": "resource_missing", "message": format!("No such checkout.session: '{id}'") } })),
        )
            .into_response(),
    }
}

// -------------------------------------------------------------- Discord

/// Discord's usual bucket for creating messages in one channel: 5 per 5 s.
pub const DISCORD_PER_CHANNEL: (usize, Duration) = (5, Duration::from_secs(5));

/// A fake Discord REST API under `/api/v10`.
pub async fn discord() -> Fake {
    let state = Arc::new(FakeState::default());
    let router = Router::new()
        .route("/api/v10/channels/{channel}/messages", post(discord_create))
        .route(
            "/api/v10/channels/{channel}/messages/{message}",
            patch(discord_edit),
        )
        .route(
            "/api/v10/channels/{channel}/messages/{message}/threads",
            post(discord_thread),
        )
        .route("/api/v10/webhooks/{app}/{token}", post(discord_followup))
        .route(
            "/api/v10/webhooks/{app}/{token}/messages/@original",
            patch(discord_original),
        )
        .route("/api/v10/gateway", axum::routing::get(discord_gateway))
        .route(
            "/api/v10/interactions/{id}/{token}/callback",
            post(discord_callback),
        )
        .with_state(state.clone());
    Fake::start(router, state).await
}

/// A Discord message as the API returns it (for fakes of other kinds too).
pub fn discord_message(id: u64, channel: &str, nonce: Option<&Value>) -> Value {
    json!({
        "id": (1_000_000_000_000_000u64 + id).to_string(),
        "channel_id": channel,
        "author": { "id": "111111111111111111", "username": "stripe-chatops", "discriminator": "0", "global_name": null, "avatar": null, "bot": true },
        "content": "",
        "timestamp": "2026-11-24T12:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "nonce": nonce.cloned().unwrap_or(Value::Null),
        "flags": 0,
        "components": []
    })
}

fn discord_problem(body: &Value) -> Option<String> {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.trim().chars().count());
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Some("embeds: at most 10".into());
    }
    let mut total = 0;
    for embed in &embeds {
        if len(&embed["title"]) > 256 || len(&embed["description"]) > 4096 {
            return Some("embed title or description too long".into());
        }
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            return Some("embed fields: at most 25".into());
        }
        for field in &fields {
            if len(&field["name"]) > 256 || len(&field["value"]) > 1024 {
                return Some("embed field too long".into());
            }
            total += len(&field["name"]) + len(&field["value"]);
        }
        total += len(&embed["title"]) + len(&embed["description"]) + len(&embed["footer"]["text"]);
    }
    if total > 6000 {
        return Some("embeds: more than 6000 characters".into());
    }
    if len(&body["nonce"]) > 25 {
        return Some("nonce: at most 25".into());
    }
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    if rows.len() > 5 {
        return Some("components: at most 5 rows".into());
    }
    let mut ids = HashSet::new();
    for row in &rows {
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        if buttons.len() > 5 {
            return Some("a row holds at most 5 buttons".into());
        }
        for button in &buttons {
            if len(&button["label"]) > 80 {
                return Some("button label: at most 80".into());
            }
            if let Some(id) = button["custom_id"].as_str()
                && (id.is_empty() || id.chars().count() > 100 || !ids.insert(id.to_owned()))
            {
                return Some("custom_id: 1-100 characters, unique".into());
            }
        }
    }
    None
}

async fn discord_create(
    State(state): State<Arc<FakeState>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (limit, window) = DISCORD_PER_CHANNEL;
    let key = format!("discord:{channel}");
    let bucket_headers = |state: &FakeState| {
        let remaining = limit.saturating_sub(state.used(&key, window));
        [
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            (
                "x-ratelimit-reset-after",
                format!("{:.3}", window.as_secs_f64()),
            ),
            (
                "x-ratelimit-reset",
                format!(
                    "{:.3}",
                    (chrono::Utc::now().timestamp_millis() as f64 / 1000.0) + window.as_secs_f64()
                ),
            ),
            ("x-ratelimit-bucket", "create-message".to_owned()),
        ]
    };
    if let Some(status) = state.injected() {
        state.record(status);
        if status == 429 {
            let seconds = state.storm_retry_after.load(Ordering::Relaxed).max(1) as f64;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", seconds.to_string()), ("x-ratelimit-scope", "user".to_owned())],
                axum::Json(json!({ "message": "You are being rate limited.", "retry_after": seconds, "global": false })),
            )
                .into_response();
        }
        return (StatusCode::BAD_GATEWAY, "bad gateway").into_response();
    }
    let authorised = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bot {DISCORD_TOKEN}"));
    if !authorised {
        state.record(401);
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "401: Unauthorized", "code": 0 })),
        )
            .into_response();
    }
    // A message id is a channel only once a thread was started from it.
    let is_message = state.discord_messages.lock().unwrap().contains(&channel);
    if state.missing.lock().unwrap().contains(&channel)
        || (is_message && !state.threads.lock().unwrap().contains(&channel))
    {
        state.record(404);
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "Unknown Channel", "code": 10003 })),
        )
            .into_response();
    }
    // With files: `payload_json` and `files[N]` parts; the files are kept.
    let body = match multipart(&headers, &body) {
        Some(parts) => {
            let mut json = Value::Null;
            let mut files = Vec::new();
            for part in parts {
                if part.name == "payload_json" {
                    json = serde_json::from_slice(&part.data).unwrap_or(Value::Null);
                } else if let Some(filename) = part.filename {
                    files.push(json!({ "field": part.name, "filename": filename, "size": part.data.len(), "png": is_png(&part.data) }));
                    state.files.lock().unwrap().insert(filename, part.data);
                }
            }
            json["_files"] = Value::Array(files);
            json
        }
        None => json_body(&body),
    };
    if let Some(problem) = discord_problem(&body) {
        state.record(400);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "message": "Invalid Form Body", "code": 50035, "errors": problem })),
        )
            .into_response();
    }
    if body["enforce_nonce"] == json!(true)
        && let Some(nonce) = body["nonce"].as_str()
        && let Some(id) = state.nonces.lock().unwrap().get(nonce).copied()
    {
        // Discord returns the message the nonce already created.
        state.record(200);
        return (
            bucket_headers(&state),
            axum::Json(discord_message(id, &channel, Some(&body["nonce"]))),
        )
            .into_response();
    }
    if let Err(wait) = state.admit(&key, limit, window) {
        state.record(429);
        let seconds = wait.as_secs_f64().max(0.001);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.ceil().to_string()), ("x-ratelimit-scope", "user".to_owned())],
            axum::Json(json!({ "message": "You are being rate limited.", "retry_after": seconds, "global": false })),
        )
            .into_response();
    }
    state.record(200);
    let id = state.accept("create", &channel, body.clone());
    state.discord_messages.lock().unwrap().insert(
        discord_message(id, &channel, None)["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    if let Some(nonce) = body["nonce"].as_str() {
        state.nonces.lock().unwrap().insert(nonce.to_owned(), id);
    }
    (
        bucket_headers(&state),
        axum::Json(discord_message(id, &channel, Some(&body["nonce"]))),
    )
        .into_response()
}

/// `POST /channels/{channel}/messages/{message}/threads`: starts a thread
/// whose id is the message's; a second start answers Discord's 160004.
async fn discord_thread(
    State(state): State<Arc<FakeState>>,
    Path((channel, message)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let name_len = body["name"].as_str().map_or(0, |n| n.chars().count());
    if !(1..=100).contains(&name_len) {
        state.record(400);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "message": "Invalid Form Body", "code": 50035, "errors": "name: 1-100 characters" })),
        )
            .into_response();
    }
    if !state.threads.lock().unwrap().insert(message.clone()) {
        state.record(400);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "message": "A thread has already been created for this message", "code": 160004 })),
        )
            .into_response();
    }
    state.record(201);
    state.accept(
        "thread",
        &channel,
        json!({ "message_id": message, "body": body }),
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": message, "type": 11, "guild_id": "222222222222222222", "name": body["name"],
            "parent_id": channel, "owner_id": "111111111111111111", "last_message_id": null,
            "rate_limit_per_user": 0, "message_count": 0, "member_count": 1, "total_message_sent": 0,
            "flags": 0, "nsfw": false, "permission_overwrites": [],
            "thread_metadata": { "archived": false, "auto_archive_duration": 10080,
                "archive_timestamp": "2026-11-24T12:00:00.000000+00:00", "locked": false }
        })),
    )
        .into_response()
}

async fn discord_gateway(State(state): State<Arc<FakeState>>) -> Response {
    let url = state.ws_url.lock().unwrap().clone().unwrap_or_default();
    axum::Json(json!({ "url": url })).into_response()
}

async fn discord_callback(
    State(state): State<Arc<FakeState>>,
    Path((id, _token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    state.record(204);
    state.accept("callback", &id, json_body(&body));
    StatusCode::NO_CONTENT.into_response()
}

async fn discord_followup(
    State(state): State<Arc<FakeState>>,
    Path((_app, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    state.record(200);
    let id = state.accept("followup", &token, json_body(&body));
    axum::Json(discord_message(id, "0", None)).into_response()
}

async fn discord_original(
    State(state): State<Arc<FakeState>>,
    Path((_app, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    state.record(200);
    let id = state.accept("original", &token, json_body(&body));
    axum::Json(discord_message(id, "0", None)).into_response()
}

async fn discord_edit(
    State(state): State<Arc<FakeState>>,
    Path((channel, message)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    state.record(200);
    let body = json_body(&body);
    state.accept(
        "edit",
        &channel,
        json!({ "message_id": message, "body": body }),
    );
    let id = message.parse::<u64>().unwrap_or(1_000_000_000_000_001) - 1_000_000_000_000_000;
    axum::Json(discord_message(id, &channel, None)).into_response()
}

// ------------------------------------------------------------- Telegram

/// Telegram: about 1 message a second per chat (short bursts of 3 tolerated).
pub const TELEGRAM_PER_CHAT: (usize, Duration) = (3, Duration::from_secs(3));
/// Telegram: 20 messages a minute per group.
pub const TELEGRAM_PER_GROUP: (usize, Duration) = (20, Duration::from_secs(60));
/// Telegram: 30 messages a second overall.
pub const TELEGRAM_GLOBAL: (usize, Duration) = (30, Duration::from_secs(1));

/// A fake Telegram Bot API under `/bot{token}/{method}`.
pub async fn telegram() -> Fake {
    let state = Arc::new(FakeState::default());
    let router = Router::new()
        .route("/{bot}/{method}", post(telegram_method))
        .with_state(state.clone());
    Fake::start(router, state).await
}

fn telegram_error(status: StatusCode, description: &str, retry_after: Option<u64>) -> Response {
    let mut body =
        json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    if let Some(seconds) = retry_after {
        body["parameters"] = json!({ "retry_after": seconds });
    }
    (status, axum::Json(body)).into_response()
}

/// The length of Telegram HTML text after entity parsing (tags removed, entities decoded).
fn telegram_text_len(html: &str) -> usize {
    let mut inside = false;
    let mut text = String::new();
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' if inside => inside = false,
            c if !inside => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .chars()
        .count()
}

async fn telegram_method(
    State(state): State<Arc<FakeState>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A file upload (`sendPhoto`): form fields become the JSON body, the
    // file is kept.
    let body = match multipart(&headers, &body) {
        Some(parts) => {
            let mut json = serde_json::Map::new();
            let mut files = Vec::new();
            for part in parts {
                if let Some(filename) = part.filename {
                    files.push(json!({ "field": part.name, "filename": filename, "size": part.data.len(), "png": is_png(&part.data) }));
                    state.files.lock().unwrap().insert(filename, part.data);
                } else {
                    let text = String::from_utf8_lossy(&part.data).to_string();
                    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    json.insert(part.name, value);
                }
            }
            json.insert("_files".to_owned(), Value::Array(files));
            Bytes::from(serde_json::to_vec(&Value::Object(json)).unwrap())
        }
        None => body,
    };
    // Updates and callback answers are the bot's inbound side: no faults, not
    // counted among the sends (the bot long-polls in the background).
    match method.to_ascii_lowercase().as_str() {
        "getupdates" => {
            let updates: Vec<Value> = state.updates.lock().unwrap().drain(..).collect();
            return axum::Json(json!({ "ok": true, "result": updates })).into_response();
        }
        lower @ ("answercallbackquery" | "setmycommands") => {
            let name = if lower == "setmycommands" {
                "setMyCommands"
            } else {
                "answerCallbackQuery"
            };
            state.accept(name, "", json_body(&body));
            return axum::Json(json!({ "ok": true, "result": true })).into_response();
        }
        _ => {}
    }
    if let Some(status) = state.injected() {
        state.record(status);
        return if status == 429 {
            let seconds = state.storm_retry_after.load(Ordering::Relaxed).max(1);
            telegram_error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {seconds}"),
                Some(seconds),
            )
        } else {
            telegram_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                None,
            )
        };
    }
    if bot != format!("bot{TELEGRAM_TOKEN}") {
        state.record(401);
        return telegram_error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let body = json_body(&body);
    let chat = body["chat_id"]
        .as_i64()
        .map(|c| c.to_string())
        .or_else(|| body["chat_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if state.missing.lock().unwrap().contains(&chat) {
        state.record(400);
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: chat not found", None);
    }
    if method.eq_ignore_ascii_case("sendphoto") {
        let files = body["_files"].as_array().cloned().unwrap_or_default();
        let caption = body["caption"].as_str().unwrap_or_default();
        if files.is_empty() || telegram_text_len(caption) > 1024 {
            state.record(400);
            return telegram_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: there is no photo in the request, or its caption is too long",
                None,
            );
        }
        state.record(200);
        let id = state.accept("sendPhoto", &chat, body.clone());
        let chat_id: i64 = chat.parse().unwrap_or(0);
        return axum::Json(json!({ "ok": true, "result": {
            "message_id": id, "date": 1_700_000_000,
            "chat": { "id": chat_id, "type": "private", "first_name": "Alice" },
            "photo": [{ "file_id": format!("photo{id}"), "file_unique_id": format!("u{id}"), "width": 900, "height": 420 }],
            "caption": caption,
        } }))
        .into_response();
    }
    let text = body["text"].as_str().unwrap_or_default();
    let length = telegram_text_len(text);
    if length == 0 || length > 4096 {
        state.record(400);
        return telegram_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message text is empty or too long",
            None,
        );
    }
    for row in body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for button in row.as_array().into_iter().flatten() {
            if button["callback_data"]
                .as_str()
                .is_some_and(|d| d.is_empty() || d.len() > 64)
            {
                state.record(400);
                return telegram_error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: BUTTON_DATA_INVALID",
                    None,
                );
            }
        }
    }
    let chat_id: i64 = chat.parse().unwrap_or(0);
    // Method names are case-insensitive (teloxide sends `SendMessage`).
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => {
            let limits = [
                (format!("chat:{chat}"), TELEGRAM_PER_CHAT, true),
                (format!("group:{chat}"), TELEGRAM_PER_GROUP, chat_id < 0),
                ("global".to_owned(), TELEGRAM_GLOBAL, true),
            ];
            for (key, (limit, window), applies) in &limits {
                if *applies && state.used(key, *window) >= *limit {
                    let wait = state.admit(key, *limit, *window).err().unwrap_or_default();
                    state.record(429);
                    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                    return telegram_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        &format!("Too Many Requests: retry after {seconds}"),
                        Some(seconds),
                    );
                }
            }
            for (key, (limit, window), applies) in &limits {
                if *applies {
                    let _ = state.admit(key, *limit, *window);
                }
            }
            state.record(200);
            let id = state.accept("sendMessage", &chat, body.clone());
            let chat_object = if chat_id < 0 {
                json!({ "id": chat_id, "type": "supergroup", "title": "Finance" })
            } else {
                json!({ "id": chat_id, "type": "private", "first_name": "Alice" })
            };
            axum::Json(json!({ "ok": true, "result": {
                "message_id": id, "date": 1_700_000_000, "chat": chat_object, "text": "card",
                "from": { "id": 42, "is_bot": true, "first_name": "stripe-chatops", "username": "stripe_chatops_bot" }
            } }))
            .into_response()
        }
        "editmessagetext" => {
            state.record(200);
            state.accept("editMessageText", &chat, body.clone());
            let chat_object = json!({ "id": chat_id, "type": "private", "first_name": "Alice" });
            axum::Json(json!({ "ok": true, "result": {
                "message_id": body["message_id"], "date": 1_700_000_000, "chat": chat_object, "text": "card",
                "edit_date": 1_700_000_001
            } }))
            .into_response()
        }
        _ => {
            state.record(404);
            telegram_error(StatusCode::NOT_FOUND, "Not Found: method not found", None)
        }
    }
}
