//! The command line: `demo`, `serve`, `check-config`, `send-sample`,
//! `events list`, `render`, `simulate`, `dead-letters`, `replay`, `audit`,
//! `migrate`.
//!
//! Every command reads the same `bot.toml` (`--config`, default `./bot.toml`)
//! through the same validation. Errors are printed with their whole cause
//! chain and a non-zero exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::config::{self, Config, DEFAULT_ACCOUNT, LoadError};
use crate::event::EventView;
use crate::render::{Platform, Templates};
use crate::routing::Destination;
use crate::store;
use crate::stripe::{sample, signature};
use crate::telemetry::{self, LogFormat};

/// Stripe webhook events as rich, interactive Slack, Discord and Telegram messages.
#[derive(Debug, Parser)]
#[command(name = "stripe-chatops", version, about)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "./bot.toml",
        env = "STRIPE_CHATOPS_CONFIG"
    )]
    pub config: PathBuf,
    /// Log line format (logs go to stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: receive Stripe webhooks and store them.
    Serve,
    /// Validate the configuration; print every error with its key and line.
    CheckConfig,
    /// Build a realistic sample event, sign it like Stripe, POST it, print the status.
    SendSample {
        /// Event type, e.g. invoice.payment_failed (`list` prints all types).
        event_type: String,
        /// Where to post; defaults to this config's own listener.
        #[arg(long)]
        url: Option<String>,
        /// Sign with this account's secret and post to its endpoint.
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
        /// Mark the sample as a live-mode event.
        #[arg(long)]
        live: bool,
        /// Print the event JSON instead of posting it (for `render` and `simulate`).
        #[arg(long)]
        print: bool,
    },
    /// Inspect stored events.
    Events {
        /// What to do with events.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Messages the outbox gave up on: list them, or queue them again.
    DeadLetters {
        /// What to do with dead letters.
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
    /// The audit log of button clicks: who, what, which object, when, the outcome.
    Audit {
        /// What to do with the audit log.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Routes one stored event again and sends its cards again.
    Replay {
        /// Stripe's event id (`evt_…`).
        event_id: String,
        /// The account the event came in on.
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
    /// Zero set-up tour: a real server on a temporary SQLite store posts a
    /// signed sample of every supported event type to itself and prints the
    /// cards its console receiver gets. Ignores `--config`.
    Demo,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Print exactly the payload a platform would receive for an event, after redaction.
    Render {
        /// A Stripe event JSON file.
        #[arg(long)]
        event: PathBuf,
        /// The payload format.
        #[arg(long, value_enum)]
        platform: Platform,
        /// Use this receiver's redaction, templates and destination.
        #[arg(long)]
        receiver: Option<String>,
        /// The account the event arrives on.
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
    },
    /// For each event file, print which receivers it reaches and which route matched.
    Simulate {
        /// Stripe event JSON files (one event, or an array of events, per file).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The account the events arrive on.
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
        /// One JSON object per event.
        #[arg(long)]
        json: bool,
    },
}

/// `events` subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The most recently received events, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the command line, runs the command, and returns the exit code.
/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Lists the audit log, newest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `dead-letters` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// Lists dead letters, oldest first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Queues dead letters again with fresh tries.
    Replay {
        /// Which: `delivery:12`, `digest:3` or a bare delivery id; none with `--all`.
        keys: Vec<String>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "keys")]
        all: bool,
    },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", telemetry::chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::CheckConfig => Ok(check_config(&cli.config)),
        Command::Serve => {
            serve(load(&cli.config)?).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SendSample {
            event_type,
            url,
            account,
            live,
            print,
        } => send_sample(&load(&cli.config)?, &event_type, url, &account, live, print).await,
        Command::Events {
            command: EventsCommand::List { limit, json },
        } => {
            list_events(&load(&cli.config)?, limit, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters { command } => {
            dead_letters(&load(&cli.config)?, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::List { limit, json },
        } => {
            audit_list(&load(&cli.config)?, limit, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { event_id, account } => {
            replay(&load(&cli.config)?, &account, &event_id).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => crate::demo::run().await,
        Command::Render {
            event,
            platform,
            receiver,
            account,
        } => {
            render(
                &load(&cli.config)?,
                &event,
                platform,
                receiver.as_deref(),
                &account,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            files,
            account,
            json,
        } => {
            simulate(&load(&cli.config)?, &files, &account, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = load(&cli.config)?;
            let store = store::open(&config.storage.url, 1).await?;
            println!(
                "{} schema is up to date ({})",
                store.backend(),
                redacted_url(&config.storage.url)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(config::load(path)?)
}

fn check_config(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(config) => {
            let accounts: Vec<String> = config
                .stripe
                .endpoints
                .values()
                .map(|e| {
                    format!(
                        "{} ({} secret{})",
                        e.account,
                        e.secrets.len(),
                        if e.secrets.len() == 1 { "" } else { "s" }
                    )
                })
                .collect();
            println!("{}: OK", path.display());
            println!("  listen:   {}", config.server.listen);
            println!("  storage:  {}", redacted_url(&config.storage.url));
            println!("  accounts: {}", accounts.join(", "));
            let receivers: Vec<String> = config
                .receivers
                .values()
                .map(|r| format!("{} ({})", r.name, describe(&r.destination)))
                .collect();
            println!("  receivers: {}", receivers.join(", "));
            ExitCode::SUCCESS
        }
        Err(LoadError::Invalid { path, errors }) => {
            eprintln!(
                "{}: {} error{}",
                path.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for error in errors {
                eprintln!("  {error}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// A destination in a few words: `slack C0123`, `console`.
fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Slack(target) => format!("slack {}", target.channel),
        Destination::Discord(target) => format!("discord channel {}", target.channel_id),
        Destination::Telegram(target) => match (&target.subscribers, target.chat_id) {
            (Some(topic), _) => format!("telegram subscribers of {topic:?}"),
            (None, Some(chat)) => format!("telegram chat {chat}"),
            (None, None) => "telegram".to_owned(),
        },
        Destination::Console => "console".to_owned(),
        Destination::Webhook(target) => format!("webhook {}", target.url),
    }
}

fn render(
    config: &Config,
    file: &Path,
    platform: Platform,
    receiver: Option<&str>,
    account: &str,
) -> anyhow::Result<()> {
    let endpoint = config
        .endpoint(account)
        .with_context(|| format!("no account {account:?} in the config"))?;
    let event = read_json(file)?;
    let view = EventView::parse(&event, account)?;
    let receiver = match receiver {
        Some(name) => Some(
            config
                .receivers
                .get(name)
                .with_context(|| format!("no receiver {name:?} in the config"))?,
        ),
        None => None,
    };
    let policy = receiver.map_or(&config.redaction, |r| &r.redaction);
    let templates = Templates::new(config.templates_dir.clone());
    let card = crate::render::card_for(
        &templates,
        &view,
        policy,
        receiver.and_then(|r| r.templates.as_deref()),
        &endpoint.display_name,
        chrono::Utc::now().timestamp(),
    )?;
    let mut payload = crate::render::payload(platform, &card);
    match (platform, receiver.map(|r| &r.destination)) {
        (Platform::Console, _) => {
            print!("{}", payload.as_str().unwrap_or_default());
            return Ok(());
        }
        (Platform::Slack, Some(Destination::Slack(target))) => {
            payload["channel"] = target.channel.clone().into()
        }
        (Platform::Telegram, Some(Destination::Telegram(target))) => {
            if let Some(chat) = target.chat_id {
                payload["chat_id"] = chat.into();
            }
            if let Some(thread) = target.message_thread_id {
                payload["message_thread_id"] = thread.into();
            }
        }
        _ => {}
    }
    println!("{}", serde_json::to_string_pretty(&payload)?);
    Ok(())
}

/// A JSON file, with its name in the error when it cannot be read or parsed.
fn read_json(file: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

fn simulate(config: &Config, files: &[PathBuf], account: &str, json: bool) -> anyhow::Result<()> {
    if config.endpoint(account).is_none() {
        bail!("no account {account:?} in the config");
    }
    for file in files {
        let events = match read_json(file)? {
            serde_json::Value::Array(events) => events,
            event => vec![event],
        };
        for event in events {
            let view = EventView::parse(&event, account)
                .with_context(|| format!("in {}", file.display()))?;
            let matches = config.router.route(&view);
            if json {
                let line = serde_json::json!({
                    "file": file.display().to_string(),
                    "id": view.id,
                    "type": view.event_type,
                    "receivers": matches,
                });
                println!("{line}");
                continue;
            }
            let amount = view
                .amount
                .as_ref()
                .map(|a| format!("{}, ", a.display))
                .unwrap_or_default();
            let mode = if view.livemode { "live" } else { "test" };
            println!(
                "{} {} ({amount}{mode}, account {account})",
                view.id, view.event_type
            );
            for found in matches {
                let destination = config
                    .receivers
                    .get(&found.receiver)
                    .map(|r| describe(&r.destination))
                    .unwrap_or_default();
                println!("  → {} ({destination}) via {}", found.receiver, found.route);
            }
        }
    }
    Ok(())
}

/// A storage URL without its password, for printing.
fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:[redacted]{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let accounts: Vec<String> = config.stripe.endpoints.keys().cloned().collect();
    let state = crate::build_state(config)
        .await
        .context("cannot open the event store")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        store = state.store.backend(),
        accounts = ?accounts,
        "stripe-chatops ready: POST /webhooks/stripe"
    );
    crate::run(listener, state, crate::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn send_sample(
    config: &Config,
    event_type: &str,
    url: Option<String>,
    account: &str,
    live: bool,
    print: bool,
) -> anyhow::Result<ExitCode> {
    if event_type == "list" {
        for event_type in sample::SAMPLE_TYPES {
            println!("{event_type}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(endpoint) = config.endpoint(account) else {
        bail!("no account {account:?} in the config");
    };
    let Some(secret) = endpoint.secrets.first() else {
        bail!("account {account:?} has no webhook secret to sign with");
    };
    let now = chrono::Utc::now().timestamp();
    let Some(mut event) = sample::sample_event(event_type, now) else {
        bail!(
            "no sample for {event_type:?}; known types:\n  {}",
            sample::SAMPLE_TYPES.join("\n  ")
        );
    };
    event["livemode"] = serde_json::Value::Bool(live);
    if print {
        println!("{}", serde_json::to_string_pretty(&event)?);
        return Ok(ExitCode::SUCCESS);
    }
    let body = serde_json::to_vec(&event)?;
    let header = signature::sign(&body, &[secret], now);
    let url = url.unwrap_or_else(|| default_url(config, account));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot POST to {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!(
        "{} {} → {status} {}",
        event["id"].as_str().unwrap_or(""),
        event_type,
        text.trim()
    );
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn default_url(config: &Config, account: &str) -> String {
    let mut address = config.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    if account == DEFAULT_ACCOUNT {
        format!("http://{address}/webhooks/stripe")
    } else {
        format!("http://{address}/webhooks/stripe/{account}")
    }
}

async fn list_events(config: &Config, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let events = store.recent_events(limit).await?;
    for stored in events {
        let event = &stored.event;
        let received = chrono::DateTime::from_timestamp_millis(event.received_at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        if json {
            let line = serde_json::json!({
                "seq": stored.seq,
                "id": event.event_id,
                "type": event.event_type,
                "livemode": event.livemode,
                "account": event.account,
                "connect_account": event.connect_account,
                "api_version": event.api_version,
                "created": event.created,
                "received_at": received,
                "routed": stored.routed_at_ms.is_some(),
            });
            println!("{line}");
        } else {
            println!(
                "{received}  {:<10} {:<4} {:<40} {}",
                event.account,
                if event.livemode { "live" } else { "test" },
                event.event_type,
                event.event_id
            );
        }
    }
    Ok(())
}

/// Parses `delivery:12`, `digest:3` or `12`.
fn outbox_key(text: &str) -> anyhow::Result<store::OutboxKey> {
    let (kind, id) = text.split_once(':').unwrap_or(("delivery", text));
    let id: i64 = id
        .parse()
        .with_context(|| format!("{text:?} is not delivery:ID, digest:ID or an id"))?;
    match kind {
        "delivery" | "d" => Ok(store::OutboxKey::Delivery(id)),
        "digest" | "g" => Ok(store::OutboxKey::Digest(id)),
        _ => bail!("{text:?} is not delivery:ID, digest:ID or an id"),
    }
}

fn key_text(key: store::OutboxKey) -> String {
    match key {
        store::OutboxKey::Delivery(id) => format!("delivery:{id}"),
        store::OutboxKey::Digest(id) => format!("digest:{id}"),
    }
}

async fn dead_letters(config: &Config, command: DeadLettersCommand) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    match command {
        DeadLettersCommand::List { limit, json } => {
            let dead = store.dead_letters(limit).await?;
            if dead.is_empty() && !json {
                println!("no dead letters");
            }
            for letter in dead {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "key": key_text(letter.key),
                            "receiver": letter.receiver,
                            "event_id": letter.event_id,
                            "event_type": letter.event_type,
                            "attempts": letter.attempts,
                            "last_error": letter.last_error,
                        })
                    );
                } else {
                    println!(
                        "{:<16} {:<16} {:<32} {:<28} tries={} {}",
                        key_text(letter.key),
                        letter.receiver,
                        letter.event_type.as_deref().unwrap_or("digest"),
                        letter.event_id.as_deref().unwrap_or("-"),
                        letter.attempts,
                        letter.last_error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        DeadLettersCommand::Replay { keys, all } => {
            if keys.is_empty() && !all {
                bail!("name the dead letters to replay (see `dead-letters list`), or pass --all");
            }
            let keys = keys
                .iter()
                .map(|k| outbox_key(k))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let replayed = store.replay_dead(&keys).await?;
            println!(
                "{replayed} dead letter(s) queued again; a running server sends them within a second"
            );
        }
    }
    Ok(())
}

async fn audit_list(config: &Config, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let entries = store.audit(limit).await?;
    if entries.is_empty() && !json {
        println!("the audit log is empty");
    }
    for entry in entries {
        let at = chrono::DateTime::from_timestamp_millis(entry.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        if json {
            let mut line = serde_json::to_value(&entry)?;
            line["at"] = at.into();
            println!("{line}");
        } else {
            println!(
                "{at}  {:<8} {:<14} {:<18} {:<30} {:<16} {}{}",
                entry.platform,
                entry.user_id,
                entry.action,
                entry.object_id.as_deref().unwrap_or("-"),
                entry.outcome,
                entry.detail.as_deref().unwrap_or(""),
                entry
                    .stripe_request_id
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn replay(config: &Config, account: &str, event_id: &str) -> anyhow::Result<()> {
    let store = store::open(&config.storage.url, 1).await?;
    let Some(stored) = store.event(account, event_id).await? else {
        bail!("no event {event_id:?} stored for account {account:?} (see `events list`)");
    };
    store.reroute_event(stored.seq).await?;
    println!(
        "{event_id} ({}) queued for routing again; a running server routes and sends it within a second",
        stored.event.event_type
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keys_parse() {
        assert_eq!(outbox_key("12").unwrap(), store::OutboxKey::Delivery(12));
        assert_eq!(outbox_key("digest:3").unwrap(), store::OutboxKey::Digest(3));
        assert_eq!(
            outbox_key("delivery:7").unwrap(),
            store::OutboxKey::Delivery(7)
        );
        assert!(outbox_key("event:1").is_err());
        assert!(outbox_key("x").is_err());
    }

    #[test]
    fn storage_urls_never_print_passwords() {
        assert_eq!(
            redacted_url("postgres://bot:hunter2@db:5432/x"),
            "postgres://bot:[redacted]@db:5432/x"
        );
        assert_eq!(redacted_url("postgres://bot@db/x"), "postgres://bot@db/x");
        assert_eq!(redacted_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
