//! Ingest load generator: signed webhooks against the real service, compared
//! with an axum hello-world on the same machine in the same run.
//!
//! ```text
//! cargo build --release --bin stripe-chatops --example loadgen
//! target/release/examples/loadgen --duration 10 --concurrency 64 \
//!     [--event-bytes 4096] [--receiver none|console|slack] [--postgres-url URL]
//! ```
//!
//! `--receiver` picks what the service delivers while it ingests: `console`
//! is the default config (no `[route]`: every card to standard output, here
//! discarded), `slack` one Slack channel on a fake Slack this program starts
//! (the tests' fake, with Slack's limits, so a burst folds into digests), and
//! `none` ingest alone (`serve --ingest-only`).
//!
//! It starts (1) an axum hello-world and (2) `target/release/stripe-chatops
//! serve` on a fresh SQLite store (or `--postgres-url`), each as its own
//! process on 127.0.0.1, and hammers each with `--concurrency` connections for
//! `--duration` seconds. Every webhook is a distinct sample event, signed like
//! Stripe. It reports requests/s, latency percentiles, RSS at idle and at peak,
//! cold start to ready, the binary size, and, after the run, checks that the
//! store holds exactly the events that were acknowledged.

mod common;
#[path = "../tests/support/fakes.rs"]
mod fakes;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{free_port, rss_kib, service_binary};
use stripe_chatops::config::Secret;
use stripe_chatops::stripe::{sample, signature};

const SECRET: &str = "whsec_loadgen_secret_0123456789";

/// What the service delivers while it ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    /// `serve --ingest-only`: nothing.
    None,
    /// The default config: every card to standard output.
    Console,
    /// One channel on a fake Slack.
    Slack,
}

struct Options {
    duration: Duration,
    concurrency: usize,
    postgres_url: Option<String>,
    event_bytes: usize,
    receiver: Receiver,
}

fn options() -> Options {
    let mut options = Options {
        duration: Duration::from_secs(10),
        concurrency: 64,
        postgres_url: None,
        event_bytes: 4096,
        receiver: Receiver::Console,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--duration" => {
                options.duration = Duration::from_secs(value.parse().expect("--duration SECONDS"))
            }
            "--concurrency" => options.concurrency = value.parse().expect("--concurrency N"),
            "--postgres-url" => options.postgres_url = Some(value),
            "--event-bytes" => options.event_bytes = value.parse().expect("--event-bytes N"),
            "--receiver" => {
                options.receiver = match value.as_str() {
                    "none" => Receiver::None,
                    "console" => Receiver::Console,
                    "slack" => Receiver::Slack,
                    other => panic!("--receiver none|console|slack, not {other:?}"),
                }
            }
            other => panic!(
                "unknown argument {other}; use --duration S --concurrency N [--event-bytes N] [--receiver none|console|slack] [--postgres-url URL]"
            ),
        }
        i += 2;
    }
    options
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("hello-server") {
        return hello_server();
    }
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(options));
}

/// The baseline: the smallest axum app, one POST route returning a constant.
fn hello_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = axum::Router::new()
            .route("/readyz", axum::routing::get(|| async { "ready" }))
            .route(
                "/webhooks/stripe",
                axum::routing::post(|| async { "Hello, World!" }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        axum::serve(listener, app).await.unwrap();
    });
}

struct Target {
    child: Child,
    address: String,
    cold_start: Duration,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_address(child: &mut Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    line.trim().to_owned()
}

async fn wait_ready(client: &reqwest::Client, address: &str, started: Instant) -> Duration {
    loop {
        if let Ok(response) = client.get(format!("http://{address}/readyz")).send().await
            && response.status().is_success()
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Builds the next request: a distinct event and its `Stripe-Signature`.
type BodyMaker = Arc<dyn Fn() -> (Vec<u8>, String) + Send + Sync>;

struct Outcome {
    ok: u64,
    failed: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// Posts bodies from `make_body` with `concurrency` workers for `duration`.
async fn hammer(
    client: &reqwest::Client,
    url: &str,
    concurrency: usize,
    duration: Duration,
    make_body: BodyMaker,
) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            let stop = stop.clone();
            let make_body = make_body.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(100_000);
                let (mut ok, mut failed) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let (body, signature) = make_body();
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("stripe-signature", signature)
                        .body(body)
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies
                                .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                            ok += 1;
                        }
                        _ => failed += 1,
                    }
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcome = Outcome {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for worker in workers {
        let (ok, failed, latencies) = worker.await.unwrap();
        outcome.ok += ok;
        outcome.failed += failed;
        outcome.latencies_us.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies_us.sort_unstable();
    outcome
}

async fn run(options: Options) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .unwrap();

    // Each request is a distinct, freshly signed event, as Stripe would send,
    // padded to `--event-bytes` (Stripe's invoice events with lines are 4–8 KB).
    let mut template =
        sample::sample_event("invoice.payment_failed", chrono::Utc::now().timestamp()).unwrap();
    let size = serde_json::to_string(&template).unwrap().len();
    if options.event_bytes > size + 20 {
        template["data"]["object"]["description"] =
            "x".repeat(options.event_bytes - size - 20).into();
    }
    let template = serde_json::to_string(&template).unwrap();
    let event_bytes = template.len();
    let template_id = serde_json::from_str::<serde_json::Value>(&template).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let secret = Secret::new(SECRET);
    let make_body: BodyMaker = Arc::new(move || {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let body = template
            .replacen(&template_id, &format!("evt_load{n:020}"), 1)
            .into_bytes();
        let header = signature::sign(&body, &[&secret], chrono::Utc::now().timestamp());
        (body, header)
    });
    // 1. Baseline: hello world, sent the very same signed requests.
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("hello-server")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let address = read_address(&mut child);
    let cold_start = wait_ready(&client, &address, started).await;
    let hello = Target {
        child,
        address,
        cold_start,
    };
    let hello_url = format!("http://{}/webhooks/stripe", hello.address);
    let hello_cpu_before = cpu_time(hello.child.id());
    let baseline = hammer(
        &client,
        &hello_url,
        options.concurrency,
        options.duration,
        make_body.clone(),
    )
    .await;
    let hello_cpu = cpu_time(hello.child.id()) - hello_cpu_before;
    let hello_rss = rss_kib(hello.child.id(), "VmHWM:");
    let hello_cold_start = hello.cold_start;
    drop(hello);

    // 2. The service.
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL: a database of its own, dropped at the end, so that runs never mix.
    let scratch_database = format!("sct_loadgen_{}", std::process::id());
    let storage = match &options.postgres_url {
        Some(url) => {
            admin_sql(url, &format!("CREATE DATABASE {scratch_database}")).await;
            with_database(url, &scratch_database)
        }
        None => format!("sqlite://{}", dir.path().join("events.db").display()),
    };
    let port = free_port();
    let config = dir.path().join("bot.toml");
    let slack = match options.receiver {
        Receiver::Slack => Some(fakes::slack().await),
        _ => None,
    };
    let receiver = match &slack {
        Some(slack) => format!(
            "[slack]\nbot_token = \"{}\"\napi_base_url = \"{}/api\"\n[[receivers]]\nname = \"finance\"\nslack = {{ channel = \"C0LOAD\" }}\n[route]\nreceiver = \"finance\"\n",
            fakes::SLACK_TOKEN,
            slack.base_url()
        ),
        None => String::new(),
    };
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"{storage}\"\nmax_connections = 8\n[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n{receiver}"),
    )
    .unwrap();
    let binary = service_binary("loadgen");
    let started = Instant::now();
    let mut serve = vec!["serve", "--config"];
    if options.receiver == Receiver::None {
        serve = vec!["serve", "--ingest-only", "--config"];
    }
    let child = Command::new(&binary)
        .args(&serve)
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let address = format!("127.0.0.1:{port}");
    let cold_start = wait_ready(&client, &address, started).await;
    let service = Target {
        child,
        address,
        cold_start,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = rss_kib(service.child.id(), "VmRSS:");
    let service_url = format!("http://{}/webhooks/stripe", service.address);

    let service_cpu_before = cpu_time(service.child.id());
    let ours = hammer(
        &client,
        &service_url,
        options.concurrency,
        options.duration,
        make_body,
    )
    .await;
    let ingest_cpu = cpu_time(service.child.id()) - service_cpu_before;
    let load_cpu = cpu_time(std::process::id());
    // The pipeline routes behind ingest: how long until every acknowledged event is routed?
    let routed_after = if options.receiver == Receiver::None {
        None
    } else {
        let store = stripe_chatops::store::open(&storage, 1).await.unwrap();
        let finished = Instant::now();
        loop {
            if store.unrouted_events(1).await.unwrap().is_empty() {
                break Some(finished.elapsed());
            }
            if finished.elapsed() > Duration::from_secs(120) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let service_cpu = cpu_time(service.child.id()) - service_cpu_before;
    let peak_rss = rss_kib(service.child.id(), "VmHWM:");
    let service_cold_start = service.cold_start;
    drop(service);

    let store = stripe_chatops::store::open(&storage, 1).await.unwrap();
    let stored = store.count_events().await.unwrap();
    let backend = store.backend();
    drop(store);
    if let Some(url) = &options.postgres_url {
        admin_sql(
            url,
            &format!("DROP DATABASE IF EXISTS {scratch_database} WITH (FORCE)"),
        )
        .await;
    }
    let binary_size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);

    println!(
        "## Ingest load ({} s, {} connections, {} store, {event_bytes}-byte events, receiver {:?})",
        options.duration.as_secs(),
        options.concurrency,
        backend,
        options.receiver
    );
    println!();
    let per_request =
        |cpu: Duration, outcome: &Outcome| cpu.as_secs_f64() * 1e6 / outcome.ok.max(1) as f64;
    println!("| server | requests/s | p50 ms | p99 ms | failed | server CPU µs/request |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| axum hello-world | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
        baseline.rate(),
        baseline.percentile(0.5),
        baseline.percentile(0.99),
        baseline.failed,
        per_request(hello_cpu, &baseline)
    );
    println!(
        "| stripe-chatops ingest (verify + durable commit) | {:.0} | {:.2} | {:.2} | {} | {:.1} |",
        ours.rate(),
        ours.percentile(0.5),
        ours.percentile(0.99),
        ours.failed,
        per_request(ingest_cpu, &ours)
    );
    println!();
    println!(
        "- CPU µs per event: stripe-chatops {:.1} during the load, {:.1} until every event was routed; this load generator {:.1} over both runs",
        per_request(ingest_cpu, &ours),
        per_request(service_cpu, &ours),
        load_cpu.as_secs_f64() * 1e6 / (ours.ok + baseline.ok).max(1) as f64
    );
    if let Some(slack) = &slack {
        println!(
            "- fake Slack: {} messages accepted, {} answered 429",
            slack.state.received().len(),
            slack.state.throttled.load(Ordering::Relaxed)
        );
    }
    println!();
    println!(
        "- throughput ratio to hello-world: **{:.2}×**",
        ours.rate() / baseline.rate()
    );
    println!(
        "- acknowledged: {}; stored after the run: {stored} ({})",
        ours.ok,
        if stored == ours.ok {
            "all of them"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "- RSS idle: {:.1} MiB; peak under load: {:.1} MiB (hello-world peak {:.1} MiB)",
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        hello_rss as f64 / 1024.0
    );
    println!(
        "- cold start to ready (spawn → /readyz 200, empty store): {:.0} ms (hello-world {:.0} ms)",
        service_cold_start.as_secs_f64() * 1000.0,
        hello_cold_start.as_secs_f64() * 1000.0
    );
    match routed_after {
        Some(lag) => println!(
            "- every acknowledged event routed to its deliveries {:.0} ms after the last acknowledgement",
            lag.as_secs_f64() * 1000.0
        ),
        None if options.receiver == Receiver::None => {
            println!("- ingest only: nothing routed or delivered")
        }
        None => println!("- routing had NOT caught up 120 s after the last acknowledgement"),
    }
    println!(
        "- release binary size: {:.1} MiB",
        binary_size as f64 / 1024.0 / 1024.0
    );
    if stored != ours.ok {
        std::process::exit(1);
    }
}

async fn admin_sql(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to --postgres-url");
    sqlx::query(sql).execute(&mut connection).await.expect(sql);
}

/// The same server URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let host_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[host_end..]
        .find('/')
        .map_or(base.len(), |i| i + host_end);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
