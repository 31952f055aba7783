//! `bot.toml`: typed configuration, loading and validation.
//!
//! Loading happens in two steps. The file is deserialized into the `*File`
//! structs, which mirror `bot.toml` key for key (each field's `///` is the
//! documentation of that key, and `bot.toml.example` repeats it). Then
//! [`load_str`] resolves secrets from their inline, `_env` or
//! `_file` sources, checks every value, and returns either the runtime
//! [`Config`] or *every* problem it found, each naming its key path and line.
//! `check-config` and `serve` run exactly the same code.
//!
//! One file per section: [`stripe`], [`routes`] (`[route]`, `[[receivers]]`,
//! `[routing]`), [`slack`], [`discord`], [`telegram`], [`delivery`],
//! [`actions`] (`[roles]`, `[actions]`, `[interactions]`); `validate`
//! puts them together, [`sources`] resolves secrets, [`locate`] finds lines.

pub mod actions;
pub mod delivery;
pub mod discord;
pub mod live;
pub mod locate;
pub mod payments;
pub mod receivers;
pub mod routes;
pub mod schedule;
pub mod slack;
pub mod sources;
pub mod stripe;
pub mod telegram;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::event::EventView;
use crate::redact::RedactionPolicy;
use crate::render::{Card, TemplateError, Templates};
use crate::routing::Router;

pub use crate::event::DEFAULT_ACCOUNT;
pub use crate::secret::Secret;
pub use actions::{ActionKind, ActionPolicy, Clicker, InteractionsConfig, Role};
pub use delivery::{DeliveryConfig, Rate, Rates};
pub use discord::{DiscordConfig, DiscordTarget};
pub use live::{LiveConfig, ReloadReport, Reloader, Snapshot};
pub use locate::{KeyPath, SourceMap};
pub use receivers::{ConsoleTarget, Destination, Receiver, ReceiverFile, WebhookTarget};
pub use routes::{RouteFile, RoutingFile};
pub use slack::{SlackConfig, SlackTarget};
pub use sources::Environment;
pub use stripe::{DEFAULT_TOLERANCE, StripeConfig, WebhookEndpoint};
pub use telegram::{TelegramConfig, TelegramTarget, TopicFile};

/// Default `[server] max_body_bytes`: 512 KiB. Stripe event payloads are a few KiB;
/// the largest (invoices with many lines) stay well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;

/// The whole of `bot.toml`, as written.
///
/// Unknown keys are not silently ignored: they are collected while parsing
/// (see [`load_str`]) and reported as errors with their path, all of them at
/// once, which `deny_unknown_fields` could not do.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    /// `[server]`: the HTTP listener.
    pub server: ServerFile,
    /// `[storage]`: where events are stored.
    pub storage: StorageFile,
    /// `[stripe]`: webhook verification and the API key for button actions.
    pub stripe: stripe::StripeFile,
    /// `[route]`: the route tree. Without it every event goes to one console receiver.
    pub route: Option<RouteFile>,
    /// `[[receivers]]`: named destinations.
    pub receivers: Vec<ReceiverFile>,
    /// `[routing]`: matcher settings (exchange rates).
    pub routing: RoutingFile,
    /// `[redaction]`: the default redaction policy of every receiver.
    pub redaction: RedactionPolicy,
    /// `[templates]`: card template overrides.
    pub templates: TemplatesFile,
    /// `[slack]`: the bot token or incoming webhook.
    pub slack: slack::SlackFile,
    /// `[discord]`: the bot token.
    pub discord: discord::DiscordFile,
    /// `[telegram]`: the bot token.
    pub telegram: telegram::TelegramFile,
    /// `[delivery]`: retries, leases, folding and rate budgets.
    pub delivery: delivery::DeliveryFile,
    /// `[roles.NAME]`: who is in which role, per platform.
    pub roles: BTreeMap<String, Role>,
    /// `[actions.NAME]`: who may press which button, and whether it asks first.
    pub actions: BTreeMap<String, actions::ActionFile>,
    /// `[interactions]`: how long buttons stay valid.
    pub interactions: actions::InteractionsFile,
    /// `[cards]`: facts about the account that cards state.
    pub cards: CardsFile,
    /// `[reminders]`: dispute deadlines and follow-ups of unpaid money.
    pub reminders: schedule::RemindersFile,
    /// `[escalation]`: critical cards nobody acknowledged.
    pub escalation: Option<schedule::EscalationFile>,
    /// `[[summaries]]`: daily or weekly summaries with a chart.
    pub summaries: Vec<schedule::SummaryFile>,
    /// `[payments]`: payment requests from chat.
    pub payments: payments::PaymentsFile,
}

/// `[cards]`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct CardsFile {
    /// What Stripe does to a subscription when its last payment retry
    /// fails, as set in the Dashboard (Billing → Revenue recovery), e.g.
    /// `"cancel the subscription"`. Stripe's API does not expose that
    /// setting; without this key the payment-failed card says that Stripe's
    /// retry settings decide.
    pub after_final_retry: Option<String>,
}

/// `[templates]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TemplatesFile {
    /// A folder whose `*.card` files override the built-in templates, file by file.
    pub dir: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct ServerFile {
    /// Address and port to listen on, e.g. `"127.0.0.1:8080"` or `"0.0.0.0:8080"`.
    pub listen: String,
    /// Largest accepted webhook body in bytes; larger requests get 413. Default 524288 (512 KiB).
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's head (request line
    /// and headers) once the connection waits for one. Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub request_head_timeout: Duration,
    /// How long a client may take to send a whole request body; slower
    /// bodies get 408. Default `"30s"`.
    #[serde(with = "humantime_serde")]
    pub request_body_timeout: Duration,
    /// How long a connection with no request in progress stays open
    /// without sending anything (a kept-alive connection between requests,
    /// or a new one that has not started). Default `"5s"`.
    #[serde(with = "humantime_serde")]
    pub keep_alive_timeout: Duration,
    /// Most connections served at once. At the cap, connections with no
    /// request in progress are closed first to make room, and new ones wait.
    /// Default 512: well below systemd's default limit of 1,024 open files,
    /// leaving room for the database and the chat platforms.
    pub max_connections: usize,
    /// A bearer token that lets `POST /-/reload` be called from other hosts
    /// than this one (`Authorization: Bearer …`). Without it, only loopback may reload.
    pub admin_token: Option<Secret>,
    /// Name of the environment variable holding the admin token.
    pub admin_token_env: Option<String>,
    /// File holding the admin token.
    pub admin_token_file: Option<PathBuf>,
}

/// Default `[server] request_head_timeout`.
pub const DEFAULT_REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `[server] request_body_timeout`.
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[server] keep_alive_timeout`.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `[server] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_head_timeout: DEFAULT_REQUEST_HEAD_TIMEOUT,
            request_body_timeout: DEFAULT_REQUEST_BODY_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            admin_token: None,
            admin_token_env: None,
            admin_token_file: None,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct StorageFile {
    /// `sqlite://PATH` (embedded, the default; the file and its folder are created)
    /// or `postgres://USER@HOST:PORT/DB` (for several replicas).
    pub url: String,
    /// Largest number of pooled database connections. Default 8.
    pub max_connections: u32,
}

impl Default for StorageFile {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/stripe-chatops.db".to_owned(),
            max_connections: 8,
        }
    }
}

/// The validated runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP listener.
    pub server: ServerConfig,
    /// The event store.
    pub storage: StorageConfig,
    /// Stripe endpoints and credentials.
    pub stripe: StripeConfig,
    /// The route tree.
    pub router: Router,
    /// Receivers by name.
    pub receivers: BTreeMap<String, Receiver>,
    /// The `[templates] dir` override folder.
    pub templates_dir: Option<PathBuf>,
    /// The default redaction policy.
    pub redaction: RedactionPolicy,
    /// Slack credentials.
    pub slack: SlackConfig,
    /// Discord credentials.
    pub discord: DiscordConfig,
    /// Telegram credentials.
    pub telegram: TelegramConfig,
    /// Outbox behaviour.
    pub delivery: DeliveryConfig,
    /// Roles, action policies, button lifetime.
    pub interactions: InteractionsConfig,
    /// `[cards]`.
    pub cards: CardsFile,
    /// Reminders, countdowns, escalation and summaries.
    pub schedule: schedule::ScheduleConfig,
    /// Payment requests from chat.
    pub payments: payments::PaymentsConfig,
}

/// The receiver every event reaches when `bot.toml` has no `[route]`.
pub const IMPLICIT_CONSOLE_RECEIVER: &str = "console";

/// Validated `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Time to send a request head.
    pub request_head_timeout: Duration,
    /// Time to send a request body.
    pub request_body_timeout: Duration,
    /// Idle time of a connection with no request in progress.
    pub keep_alive_timeout: Duration,
    /// Connection cap.
    pub max_connections: usize,
    /// Lets `POST /-/reload` come from other hosts.
    pub admin_token: Option<Secret>,
}

/// Validated `[storage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

impl Config {
    /// The endpoint of an account name, if it is configured.
    pub fn endpoint(&self, account: &str) -> Option<&WebhookEndpoint> {
        self.stripe.endpoints.get(account)
    }

    /// The card of an event for a receiver (`None`: the default redaction
    /// and templates): its redaction, its template folder, the account's
    /// display name. The delivery worker, the card edits after a click and
    /// `stripe-chatops render` all render through this one function.
    pub fn card_for(
        &self,
        templates: &Templates,
        view: &EventView,
        receiver: Option<&Receiver>,
    ) -> Result<Card, TemplateError> {
        self.card_at(templates, view, receiver, chrono::Utc::now().timestamp())
    }

    /// [`Config::card_for`] as of `now` (Unix seconds): the service's
    /// [`crate::clock::Clock`], so that a countdown is true when it is edited.
    pub fn card_at(
        &self,
        templates: &Templates,
        view: &EventView,
        receiver: Option<&Receiver>,
        now: i64,
    ) -> Result<Card, TemplateError> {
        self.render_card(
            templates,
            view,
            receiver.map_or(&self.redaction, |r| &r.redaction),
            receiver.and_then(|r| r.templates.as_deref()),
            now,
        )
    }

    /// The card of an event for one person (a look-up's private answer),
    /// redacted with `policy`.
    pub fn card_with_policy(
        &self,
        templates: &Templates,
        view: &EventView,
        policy: &RedactionPolicy,
    ) -> Result<Card, TemplateError> {
        self.render_card(
            templates,
            view,
            policy,
            None,
            chrono::Utc::now().timestamp(),
        )
    }

    /// Renders with the account facts of `[cards]`: what the account does
    /// after the final retry is the admin's to state, Stripe's API does not say.
    fn render_card(
        &self,
        templates: &Templates,
        view: &EventView,
        policy: &RedactionPolicy,
        receiver_templates: Option<&std::path::Path>,
        now: i64,
    ) -> Result<Card, TemplateError> {
        let with_setting;
        let view = match (&self.cards.after_final_retry, &view.invoice) {
            (Some(setting), Some(_)) => {
                let mut copy = view.clone();
                if let Some(invoice) = &mut copy.invoice {
                    invoice.after_final_retry = Some(setting.clone());
                }
                with_setting = copy;
                &with_setting
            }
            _ => view,
        };
        crate::render::card_for(
            templates,
            view,
            policy,
            receiver_templates,
            self.account_name(&view.account),
            now,
        )
    }

    /// Keeps only the buttons of `card` that still have an open token
    /// (`open`: action name and token), puts the tokens on them, and asks
    /// for confirmation where the action's policy says so. Used when a sent
    /// card is rendered again: after a press, and when its case changes.
    pub fn keep_open_buttons(
        &self,
        card: &mut Card,
        open: &[(String, String)],
        view: &EventView,
        receiver: &Receiver,
    ) {
        card.actions.retain_mut(|action| {
            let Some((_, token)) = open.iter().find(|(name, _)| *name == action.action) else {
                return false;
            };
            action.token = Some(token.clone());
            if let Some(kind) = ActionKind::parse(&action.action)
                && self.interactions.policy(kind).confirm
            {
                action.confirm = Some(crate::render::states::confirmation(
                    &action.label,
                    view,
                    &receiver.redaction,
                ));
            }
            true
        });
    }

    /// Whether any receiver keeps living cases: a destination whose messages
    /// can be edited (Slack with a bot token, Discord, a Telegram chat), or
    /// summaries are scheduled. Otherwise the pipeline skips the case
    /// bookkeeping altogether.
    pub fn keeps_cases(&self) -> bool {
        // A summary counts a payment told by several events once, by its case.
        !self.schedule.summaries.is_empty()
            || self.receivers.values().any(|r| match &r.destination {
                Destination::Slack(_) => self.slack.bot_token.is_some(),
                Destination::Discord(_) => true,
                Destination::Telegram(target) => target.chat_id.is_some(),
                Destination::Console | Destination::Webhook(_) => false,
            })
    }

    /// The name cards show for an account: its `display_name`, else the account name.
    pub fn account_name<'a>(&'a self, account: &'a str) -> &'a str {
        self.endpoint(account)
            .map_or(account, |e| e.display_name.as_str())
    }
}

/// One problem in `bot.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key the problem is about.
    pub path: KeyPath,
    /// The 1-based line in the file, where the TOML text can tell.
    pub line: Option<usize>,
    /// What is wrong, never including a secret value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} (line {line}): {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Why a config could not be loaded: every problem found.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{} in {}:\n{}", plural(errors.len()), path.display(), list(errors))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, in file order where known.
        errors: Vec<ConfigError>,
    },
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 error".to_owned()
    } else {
        format!("{count} errors")
    }
}

fn list(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(&text, &Environment::process()).map_err(|errors| LoadError::Invalid {
        path: path.to_owned(),
        errors,
    })
}

/// Parses and validates config text, returning every error found.
pub fn load_str(text: &str, env: &Environment) -> Result<Config, Vec<ConfigError>> {
    let source = SourceMap::new(text);
    let mut unknown = Vec::new();
    let deserializer = toml::Deserializer::new(text);
    let parsed: Result<ConfigFile, _> = serde_ignored::deserialize(deserializer, |path| {
        unknown.push(KeyPath::from_ignored(&path));
    });
    let file = match parsed {
        Ok(file) => file,
        Err(error) => {
            let offset = error.span().map(|span| span.start);
            let path = offset.and_then(|o| source.path_at(o)).unwrap_or_default();
            return Err(vec![ConfigError {
                path,
                line: offset.map(|o| source.line_of_offset(o)),
                message: error.message().trim().to_owned(),
            }]);
        }
    };
    let mut errors = Errors::new(&source);
    for path in unknown {
        errors.push(
            path,
            "unknown key (check its spelling and the section it is in)",
        );
    }
    let config = file.validate(env, &mut errors);
    let mut errors = errors.into_vec();
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(errors)
    }
}

/// Collects errors and finds their lines.
pub(crate) struct Errors<'a> {
    source: &'a SourceMap,
    found: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    fn new(source: &'a SourceMap) -> Self {
        Self {
            source,
            found: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        let line = self.source.line_of(&path);
        self.found.push(ConfigError {
            path,
            line,
            message: message.into(),
        });
    }

    fn into_vec(self) -> Vec<ConfigError> {
        self.found
    }
}

#[cfg(test)]
mod tests;
