//! The real binary: crash survival (kill -9), graceful SIGTERM, `check-config`,
//! `send-sample`, `events list --json`, and logs that hold no secret.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-chatops");

/// A `stripe-chatops serve` child process with its stderr captured.
struct Server {
    child: Child,
    address: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["--log-format", "json", "serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start stripe-chatops serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(listen) = json["listen"].as_str()
                {
                    let _ = ready_tx.send(listen.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "server did not become ready; logs: {:?}",
                    logs.lock().unwrap()
                )
            });
        Self {
            child,
            address,
            logs,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/webhooks/stripe", self.address)
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let url = format!("sqlite://{}", dir.join("data/events.db").display());
    let path = dir.join("bot.toml");
    std::fs::write(&path, config_text(&url, "")).unwrap();
    path
}

fn run(args: &[&str], config: &Path) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run stripe-chatops");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn listed_ids(config: &Path) -> Vec<String> {
    let (code, stdout, stderr) = run(&["events", "list", "--limit", "1000", "--json"], config);
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .map(|line| {
            let json: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            for key in ["id", "type", "livemode", "account", "received_at"] {
                assert!(!json[key].is_null(), "missing {key} in {line}");
            }
            json["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every acknowledged event survives kill -9 and a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&config);
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    let posts: Vec<_> = (0..60)
        .map(|i| {
            let event = event(sample_type(i));
            let body = serde_json::to_vec(&event).unwrap();
            let request = client
                .post(server.url())
                .header("stripe-signature", sign_now(&body, SECRET))
                .body(body);
            let id = event["id"].as_str().unwrap().to_owned();
            tokio::spawn(async move { (id, request.send().await.map(|r| r.status().as_u16())) })
        })
        .collect();
    for post in posts {
        let (id, status) = post.await.unwrap();
        assert_eq!(status.unwrap(), 200);
        acknowledged.push(id);
    }
    drop(server); // SIGKILL: no shutdown code runs.

    let mut listed = listed_ids(&config);
    listed.sort();
    acknowledged.sort();
    assert_eq!(listed, acknowledged);

    // The restarted service still knows them: redelivery is a duplicate.
    let server = Server::start(&config);
    let stored = Command::new(BIN)
        .args(["events", "list", "--json", "--limit", "1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let line: serde_json::Value =
        serde_json::from_slice(stored.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let (status, text) = resend_stored(&server, &config, line["id"].as_str().unwrap()).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "duplicate: already stored\n")
    );
}

async fn resend_stored(server: &Server, config: &Path, id: &str) -> (u16, String) {
    let store = stripe_chatops::store::open(
        &stripe_chatops::config::load(config).unwrap().storage.url,
        1,
    )
    .await
    .unwrap();
    let stored = store.event("default", id).await.unwrap().unwrap();
    let body = stored.event.payload.into_bytes();
    let response = reqwest::Client::new()
        .post(server.url())
        .header("stripe-signature", sign_now(&body, SECRET))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn sample_type(i: usize) -> &'static str {
    let types = stripe_chatops::stripe::sample::SAMPLE_TYPES;
    types[i % types.len()]
}

/// SIGTERM stops accepting, finishes, and exits 0; logs hold no secret and no payload PII.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_graceful_and_logs_leak_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut server = Server::start(&config);
    let client = reqwest::Client::new();
    let event = event("invoice.payment_failed");
    let body = serde_json::to_vec(&event).unwrap();
    let ok = client
        .post(server.url())
        .header("stripe-signature", sign_now(&body, SECRET))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let forged = client
        .post(server.url())
        .header("stripe-signature", sign_now(&body, "whsec_forged_000000"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);

    // Let the pipeline route the event first, so its log line is checked too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.logs().contains("event routed") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    // The reader thread may still be draining the pipe.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.logs().contains("\"stopped\"") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = server.logs();
    assert!(logs.contains("shutdown requested"), "{logs}");
    assert!(
        logs.contains("webhook accepted") && logs.contains("webhook refused"),
        "{logs}"
    );
    // The pipeline's routing line (debug level) is among the lines checked below.
    assert!(logs.contains("event routed"), "{logs}");
    for secret_or_pii in [
        SECRET,
        ROTATED_SECRET,
        EU_SECRET,
        "jenny.rosen@example.com",
        "Jenny Rosen",
        "+15555550100",
        "510 Townsend",
    ] {
        assert!(
            !logs.contains(secret_or_pii),
            "{secret_or_pii} leaked into logs:\n{logs}"
        );
    }
}

#[test]
fn check_config_accepts_the_example_and_lists_every_error() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml.example");
    let (code, stdout, stderr) = run(&["check-config"], &example);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(": OK"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"8080\"\n\n[stripe]\nwebhook_secrets = [\"whsec_private_value_123\", \"sk_live_private_value\"]\ntolerence = \"5m\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["check-config"], &bad);
    assert_eq!(code, 1);
    assert!(stderr.contains("3 errors"), "{stderr}");
    assert!(
        stderr.contains("server.listen (line 2): \"8080\" is not an address and port"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("stripe.webhook_secrets[1] (line 5): is not a Stripe webhook signing secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stripe.tolerence (line 6): unknown key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("private_value"),
        "a secret leaked: {stderr}"
    );

    let (code, _, stderr) = run(&["check-config"], &dir.path().join("missing.toml"));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_sample_posts_a_signed_event_the_server_stores() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let server = Server::start(&config);
    let (code, stdout, stderr) = run(
        &[
            "send-sample",
            "charge.dispute.created",
            "--url",
            &server.url(),
        ],
        &config,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("charge.dispute.created → 200 OK stored"),
        "{stdout}"
    );
    let (code, stdout, _) = run(
        &[
            "send-sample",
            "invoice.paid",
            "--account",
            "eu",
            "--url",
            &format!("{}/eu", server.url()),
        ],
        &config,
    );
    assert_eq!(code, 0, "{stdout}");
    let (code, _, stderr) = run(
        &["send-sample", "no.such.type", "--url", &server.url()],
        &config,
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no sample for \"no.such.type\""),
        "{stderr}"
    );
    drop(server);

    let (code, stdout, _) = run(&["events", "list"], &config);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("eu")
            && stdout.contains("invoice.paid")
            && stdout.contains("charge.dispute.created"),
        "{stdout}"
    );
    assert_eq!(listed_ids(&config).len(), 2);
}

#[test]
fn migrate_creates_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (code, stdout, stderr) = run(&["migrate"], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sqlite schema is up to date"), "{stdout}");
    assert!(dir.path().join("data/events.db").exists());
}

#[test]
fn simulate_prints_receivers_and_the_matching_route() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, config_text(&url, ROUTED)).unwrap();
    let dispute = dir.path().join("dispute.json");
    std::fs::write(
        &dispute,
        serde_json::to_vec(&event("charge.dispute.created")).unwrap(),
    )
    .unwrap();
    let both = dir.path().join("both.json");
    std::fs::write(
        &both,
        serde_json::to_vec(&vec![event("payout.paid"), event("invoice.paid")]).unwrap(),
    )
    .unwrap();

    let (code, stdout, stderr) = run(
        &[
            "simulate",
            &dispute.display().to_string(),
            &both.display().to_string(),
        ],
        &config,
    );
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("charge.dispute.created ($49.00 USD, test, account default)"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "  → disputes (discord channel 123456789012345678) via route.routes[0]"
    );
    assert_eq!(
        lines[2],
        "  → finance (slack C0FINANCE) via route.routes[1]"
    );
    assert!(lines[3].contains("payout.paid"), "{stdout}");
    assert_eq!(lines[4], "  → ops (console) via route");
    assert_eq!(
        lines[6],
        "  → finance (slack C0FINANCE) via route.routes[1]"
    );

    let (code, stdout, _) = run(
        &["simulate", "--json", &dispute.display().to_string()],
        &config,
    );
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["receivers"][0]["receiver"], "disputes");
    assert_eq!(json["receivers"][1]["route"], "route.routes[1]");
}

#[test]
fn check_config_names_undefined_receivers_and_unreachable_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    let routes = "[[receivers]]\nname = \"ops\"\nconsole = {}\n[route]\nreceiver = \"ops\"\n[[route.routes]]\nreceiver = \"ops\"\n[[route.routes]]\nevent_types = [\"invoice.*\"]\nreceiver = \"finanse\"\n";
    std::fs::write(&config, config_text("sqlite://./x.db", routes)).unwrap();
    let (code, _, stderr) = run(&["check-config"], &config);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("route.routes[1]")
            && stderr.contains("is unreachable: route.routes[0] matches every event"),
        "{stderr}"
    );
    assert!(
        stderr.contains("route.routes[1].receiver (line"),
        "{stderr}"
    );
    assert!(
        stderr.contains("undefined receiver \"finanse\" used in route.routes[1]"),
        "{stderr}"
    );
}

/// A config whose only receiver is a Slack channel on a fake Slack.
fn write_slack_config(dir: &Path, slack: &crate::support::fakes::Fake, channel: &str) -> PathBuf {
    let url = format!("sqlite://{}", dir.join("data/events.db").display());
    let extra = format!(
        r#"
[slack]
bot_token = "{}"
api_base_url = "{}/api"
[delivery]
retry_schedule = ["200ms", "500ms"]
lease = "2s"
[[receivers]]
name = "finance"
slack = {{ channel = "{channel}" }}
[route]
receiver = "finance"
"#,
        crate::support::fakes::SLACK_TOKEN,
        slack.base_url()
    );
    let path = dir.join("bot.toml");
    std::fs::write(&path, config_text(&url, &extra)).unwrap();
    path
}

async fn post_signed(server: &Server, event: &serde_json::Value) -> u16 {
    let body = serde_json::to_vec(event).unwrap();
    reqwest::Client::new()
        .post(server.url())
        .header("stripe-signature", sign_now(&body, SECRET))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn demo_posts_every_sample_to_itself_and_prints_the_cards() {
    let output = Command::new(BIN).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let types = stripe_chatops::stripe::sample::SAMPLE_TYPES.len();
    assert!(
        stdout.contains(&format!(
            "{types} events accepted over HTTP, {types} cards delivered"
        )),
        "{stdout}"
    );
    for event_type in stripe_chatops::stripe::sample::SAMPLE_TYPES {
        assert!(
            stdout.contains(&format!("· {event_type}")),
            "no card for {event_type}"
        );
    }
}

/// The outbox survives kill -9 mid-drain: every card arrives after the
/// restart, in order; at most the one message in flight is repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_kill_9() {
    let slack = crate::support::fakes::slack().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_slack_config(dir.path(), &slack, "C0CRASH");
    let mut ids = Vec::new();
    {
        let server = Server::start(&config);
        for _ in 0..5 {
            let event = event("charge.failed");
            assert_eq!(post_signed(&server, &event).await, 200);
            ids.push(event["id"].as_str().unwrap().to_owned());
        }
        // The channel's budget is about one a second: kill after the first cards.
        eventually(20, "two cards before the crash", || async {
            (slack.state.posts("chat.postMessage").len() >= 2).then_some(())
        })
        .await;
        let status = Command::new("kill")
            .args(["-9", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let before = slack.state.posts("chat.postMessage").len();
    assert!(before < 5, "the crash came before the queue was drained");

    let _server = Server::start(&config);
    let posts = eventually(30, "every card after the restart", || async {
        let posts = slack.state.posts("chat.postMessage");
        ids.iter()
            .all(|id| {
                posts
                    .iter()
                    .any(|p| p.body.to_string().contains(id.as_str()))
            })
            .then_some(posts)
    })
    .await;
    assert!(
        posts.len() <= ids.len() + 1,
        "at most the message in flight is repeated: {}",
        posts.len()
    );
    let order: Vec<usize> = posts
        .iter()
        .map(|p| {
            ids.iter()
                .position(|id| p.body.to_string().contains(id.as_str()))
                .unwrap()
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, (0..ids.len()).collect::<Vec<_>>());
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "in order per destination: {order:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_and_events_replay() {
    let slack = crate::support::fakes::slack().await;
    slack
        .state
        .missing
        .lock()
        .unwrap()
        .insert("C0MISSING".into());
    let dir = tempfile::tempdir().unwrap();
    let config = write_slack_config(dir.path(), &slack, "C0MISSING");
    let server = Server::start(&config);
    let event = event("invoice.payment_failed");
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(post_signed(&server, &event).await, 200);

    let line = eventually(20, "a dead letter listed", || async {
        let (code, stdout, _) = run(&["dead-letters", "list", "--json"], &config);
        assert_eq!(code, 0);
        stdout.lines().next().map(str::to_owned)
    })
    .await;
    let letter: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(letter["event_id"], serde_json::json!(id));
    assert_eq!(letter["receiver"], serde_json::json!("finance"));
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .contains("channel_not_found")
    );

    let (code, _, stderr) = run(&["dead-letters", "replay"], &config);
    assert_ne!(code, 0, "replay without keys or --all is refused");
    assert!(stderr.contains("--all"), "{stderr}");

    slack.state.missing.lock().unwrap().clear();
    let key = letter["key"].as_str().unwrap();
    let (code, stdout, stderr) = run(&["dead-letters", "replay", key], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("1 dead letter(s) queued again"),
        "{stdout}"
    );
    eventually(20, "the replayed card", || async {
        (slack.state.posts("chat.postMessage").len() == 1).then_some(())
    })
    .await;

    // `replay EVENT_ID` routes and sends the event once more.
    let (code, stdout, stderr) = run(&["replay", &id], &config);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("queued for routing again"), "{stdout}");
    eventually(20, "the card sent again", || async {
        (slack.state.posts("chat.postMessage").len() == 2).then_some(())
    })
    .await;
    let (code, _, stderr) = run(&["replay", "evt_unknown"], &config);
    assert_ne!(code, 0);
    assert!(stderr.contains("no event \"evt_unknown\""), "{stderr}");
    drop(server);
}

/// SIGHUP reloads the config and never stops the process; `stripe-chatops
/// reload` applies a valid change (a new account answers at once) and
/// refuses an invalid one with its key path, keeping the running config.
#[tokio::test]
async fn sighup_and_the_reload_command_reload_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("sqlite://{}", dir.path().join("data/events.db").display());
    let text = config_text(&url, "").replacen("127.0.0.1:0", &format!("127.0.0.1:{port}"), 1);
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, &text).unwrap();
    let mut server = Server::start(&config);

    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(10, "the SIGHUP reload logged", || async {
        server
            .logs()
            .contains("SIGHUP: config reload")
            .then_some(())
    })
    .await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP must not stop the process"
    );
    assert!(
        server.logs().contains(r#""result":"unchanged""#),
        "{}",
        server.logs()
    );

    // A valid change: a new account, answering at once.
    let us = format!("http://127.0.0.1:{port}/webhooks/stripe/us");
    let client = reqwest::Client::new();
    let before = client.post(&us).body("{}").send().await.unwrap();
    assert_eq!(before.status().as_u16(), 404);
    let added =
        format!("{text}\n[stripe.accounts.us]\nwebhook_secrets = [\"whsec_us_0123456789\"]\n");
    std::fs::write(&config, &added).unwrap();
    let (code, out, err) = run(&["reload"], &config);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("config applied"), "{out}");
    let after = client.post(&us).body("{}").send().await.unwrap();
    assert_eq!(
        after.status().as_u16(),
        400,
        "the new account verifies signatures now"
    );

    // An invalid change: refused with its key path; the running config stays.
    std::fs::write(
        &config,
        added.replacen("[server]", "[server]\nlisen = 1", 1),
    )
    .unwrap();
    let (code, out, _) = run(&["reload"], &config);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("config invalid"), "{out}");
    assert!(out.contains("server.lisen (line"), "{out}");
    let still = client.post(&us).body("{}").send().await.unwrap();
    assert_eq!(still.status().as_u16(), 400, "the running config stays");
    assert!(server.child.try_wait().unwrap().is_none());
}

/// `summary` prints a week's numbers and writes the chart a summary would
/// carry; `schedule list` shows what is due next.
#[tokio::test]
async fn summary_previews_a_week_and_schedule_list_shows_what_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let extra = r#"
[[summaries]]
receiver = "console"
every = "daily"
at = "09:00"
timezone = "Europe/Paris"
"#;
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, config_text(&url, extra)).unwrap();
    let app = start_app(TestDatabase::shared(&url), extra).await;
    // Two payments yesterday (Paris), one of them told twice.
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let (start, _) = stripe_chatops::delivery::summary::period_bounds(
        paris,
        chrono::Utc::now().timestamp_millis(),
        1,
    );
    for (i, (event_type, object)) in [
        ("charge.succeeded", serde_json::json!({ "id": "ch_cli1", "object": "charge", "amount": 2500, "currency": "eur", "payment_intent": "pi_cli1" })),
        ("payment_intent.succeeded", serde_json::json!({ "id": "pi_cli1", "object": "payment_intent", "amount_received": 2500, "currency": "eur" })),
        ("charge.succeeded", serde_json::json!({ "id": "ch_cli2", "object": "charge", "amount": 7500, "currency": "eur" })),
    ]
    .into_iter()
    .enumerate()
    {
        let mut event = event(event_type);
        event["id"] = format!("evt_cli_summary{i}").into();
        event["created"] = (start + 3600 * (i as i64 + 1)).into();
        event["data"]["object"] = object;
        assert_eq!(app.post_event("/webhooks/stripe", &event, SECRET).await.0, 200);
    }
    eventually(20, "routed", || async {
        app.state
            .store
            .unrouted_events(10)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    eventually(20, "the next summary scheduled", || async {
        (!app.state.store.jobs(false, 10).await.unwrap().is_empty()).then_some(())
    })
    .await;
    app.stop().await;

    let png = dir.path().join("chart.png");
    let (code, stdout, stderr) = run(
        &[
            "summary",
            "--receiver",
            "console",
            "--period",
            "1d",
            "--png",
            png.to_str().unwrap(),
        ],
        &config,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Daily summary"), "{stdout}");
    assert!(stdout.contains("(Europe/Paris)"), "{stdout}");
    let received = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Payments received"))
        .unwrap();
    assert!(
        received.contains(" 2 ") && received.contains("€100.00 EUR"),
        "{received}"
    );
    let bytes = std::fs::read(&png).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (900, 420));
    assert!(stderr.contains("chart written"), "{stderr}");

    let (code, stdout, stderr) = run(&["schedule", "list", "--json"], &config);
    assert_eq!(code, 0, "{stderr}");
    let job: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(job["kind"], "summary");
    assert_eq!(job["receiver"], "console");
    assert_eq!(job["status"], "pending");
    assert!(job["due_at"].as_str().unwrap().ends_with('Z'));

    let (code, _, stderr) = run(
        &["summary", "--receiver", "console", "--period", "36h"],
        &config,
    );
    assert_eq!(code, 2, "a period of whole days: {stderr}");
    assert!(stderr.contains("whole days"), "{stderr}");
    let (code, _, stderr) = run(&["summary", "--receiver", "nobody"], &config);
    assert_eq!(code, 1);
    assert!(stderr.contains("no receiver \"nobody\""), "{stderr}");
}
