//! The command line: `demo`, `serve`, `check-config`, `send-sample`,
//! `events list`, `render`, `simulate`, `dead-letters`, `replay`, `audit`,
//! `cases`, `silences`, `schedule`, `summary`, `payments`, `migrate`.
//!
//! Every command reads the same `bot.toml` (`--config`, default `./bot.toml`)
//! through the same validation. Errors are printed with their whole cause
//! chain and a non-zero exit code.

mod cards;
mod cases;
mod inspect;
mod schedule;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, DEFAULT_ACCOUNT};
use crate::platform::Platform;
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
    /// Run the service: receive Stripe webhooks, store, route and deliver them.
    Serve {
        /// Only receive and store events; route and deliver nothing (for
        /// replicas that share a PostgreSQL store with replicas that deliver).
        #[arg(long)]
        ingest_only: bool,
    },
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
    /// Living cases: one card per Stripe object and receiver.
    Cases {
        /// What to do with cases.
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Silences: matching events are stored but not posted until they end.
    Silences {
        /// What to do with silences.
        #[command(subcommand)]
        command: SilencesCommand,
    },
    /// Scheduled work: dispute reminders, countdown edits, follow-ups,
    /// escalations and summaries.
    Schedule {
        /// What to do with the schedule.
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Payment requests made from chat (`/stripe pay`, `/pay`).
    Payments {
        /// What to do with payment requests.
        #[command(subcommand)]
        command: PaymentsCommand,
    },
    /// Prints the summary a receiver would get (payments received, failed,
    /// recovered, refunds, disputes, open cases; against the period before)
    /// and writes its chart, for a preview.
    Summary {
        /// The receiver whose open cases count (and whose `[[summaries]]`
        /// time zone applies).
        #[arg(long)]
        receiver: String,
        /// The whole days before today, e.g. `1d`, `7d`.
        #[arg(long, default_value = "7d", value_parser = schedule::parse_days)]
        period: u32,
        /// Write the chart of the first account and currency to this PNG file.
        #[arg(long)]
        png: Option<PathBuf>,
        /// The numbers as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fetches the events Stripe has and the store does not (`GET /v1/events`),
    /// stores them as webhooks would, and prints how many were new. The
    /// running service routes and delivers them.
    CatchUp {
        /// From how far back: a duration (`2h`, `3d`) or Unix seconds.
        /// Default: the start of the last catch-up, less `[stripe] catch_up_overlap`.
        #[arg(long)]
        since: Option<String>,
        /// Only this account (default: every account with an API key).
        #[arg(long)]
        account: Option<String>,
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
    /// Ask the running service to re-read bot.toml and its template folders
    /// (as SIGHUP does); prints what was applied, refused or needs a restart.
    Reload,
    /// Print exactly the payload a platform would receive for an event, after redaction.
    Render {
        /// A Stripe event JSON file.
        #[arg(long)]
        event: PathBuf,
        /// The payload format: slack, discord, telegram, console or webhook.
        #[arg(long, value_parser = parse_platform)]
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

/// `payments` subcommands.
#[derive(Debug, Subcommand)]
pub enum PaymentsCommand {
    /// The newest payment requests: when, who asked, the amount and what
    /// for, where the card is, its status, its links and the newest one.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `schedule` subcommands.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// What is due next: each pending job's due time, kind, receiver, case
    /// and what it is; overdue ones run as soon as the service runs.
    List {
        /// Every job, with finished and cancelled ones and their outcome.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `cases` subcommands.
#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// Cases, most recently changed first: key, state, receiver, events, who
    /// acknowledged or resolved it, and where its card lives.
    List {
        /// Only cases nobody resolved.
        #[arg(long)]
        open: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One case's events in order, on every receiver, and what each did to its card.
    Show {
        /// The case key, e.g. `in_1Q…` (see `cases list`).
        key: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `silences` subcommands.
#[derive(Debug, Subcommand)]
pub enum SilencesCommand {
    /// Silences the events every matcher matches, for a while.
    Add {
        /// `label=value` or `label!=value` (globs with `*`); labels: type,
        /// account, livemode, customer, currency, object, case, metadata.KEY.
        #[arg(long = "matcher", required = true)]
        matchers: Vec<String>,
        /// How long, e.g. `2h`, `30m`, `1d`.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
        /// Why (shown in `silences list`).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// The silences in force, newest first.
    List {
        /// Also the ended and expired ones.
        #[arg(long)]
        all: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Ends a silence now.
    Expire {
        /// Its id (see `silences list`).
        id: i64,
    },
}

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

/// Parses the command line, runs the command, and returns the exit code.
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
        Command::CheckConfig => Ok(inspect::check_config(&cli.config)),
        Command::Serve { ingest_only } => {
            serve::serve(&cli.config, ingest_only).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SendSample {
            event_type,
            url,
            account,
            live,
            print,
        } => serve::send_sample(&load(&cli.config)?, &event_type, url, &account, live, print).await,
        Command::Events {
            command: EventsCommand::List { limit, json },
        } => {
            inspect::list_events(&load(&cli.config)?, limit, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters { command } => {
            inspect::dead_letters(&load(&cli.config)?, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::List { limit, json },
        } => {
            inspect::audit_list(&load(&cli.config)?, limit, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Cases { command } => {
            let config = load(&cli.config)?;
            match command {
                CasesCommand::List { open, limit, json } => {
                    cases::list(&config, open, limit, json).await?
                }
                CasesCommand::Show { key, json } => cases::show(&config, &key, json).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Silences { command } => {
            let config = load(&cli.config)?;
            match command {
                SilencesCommand::Add {
                    matchers,
                    duration,
                    comment,
                } => cases::add_silence(&config, &matchers, duration, &comment).await?,
                SilencesCommand::List { all, json } => {
                    cases::list_silences(&config, all, json).await?
                }
                SilencesCommand::Expire { id } => cases::expire_silence(&config, id).await?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schedule { command } => {
            let config = load(&cli.config)?;
            match command {
                ScheduleCommand::List { all, limit, json } => {
                    schedule::list(&config, all, limit, json).await?
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Payments {
            command: PaymentsCommand::List { limit, json },
        } => {
            schedule::payments(&load(&cli.config)?, limit, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Summary {
            receiver,
            period,
            png,
            json,
        } => {
            let config = load(&cli.config)?;
            schedule::print(&config, &receiver, period, png.as_deref(), json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CatchUp { since, account } => {
            inspect::catch_up(&load(&cli.config)?, since.as_deref(), account.as_deref()).await
        }
        Command::Replay { event_id, account } => {
            inspect::replay(&load(&cli.config)?, &account, &event_id).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => crate::demo::run().await,
        Command::Render {
            event,
            platform,
            receiver,
            account,
        } => {
            cards::render(
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
            cards::simulate(&load(&cli.config)?, &files, &account, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reload => serve::reload(&cli.config).await,
        Command::Migrate => {
            let config = load(&cli.config)?;
            let store = crate::store::open(&config.storage.url, 1).await?;
            println!(
                "{} schema is up to date ({})",
                store.backend(),
                inspect::redacted_url(&config.storage.url)
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(config::load(path)?)
}

/// `--platform`: a platform's lower-case name.
fn parse_platform(name: &str) -> Result<Platform, String> {
    Platform::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Platform::ALL.iter().map(|p| p.name()).collect();
        format!("unknown platform {name:?}; one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::inspect::{outbox_key, redacted_url};
    use super::*;
    use crate::store::OutboxKey;

    #[test]
    fn outbox_keys_parse() {
        assert_eq!(outbox_key("12").unwrap(), OutboxKey::Delivery(12));
        assert_eq!(outbox_key("digest:3").unwrap(), OutboxKey::Digest(3));
        assert_eq!(outbox_key("delivery:7").unwrap(), OutboxKey::Delivery(7));
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
