//! `bot.toml`: typed configuration, loading and validation.
//!
//! Loading happens in two steps. The file is deserialized into the `*File`
//! structs, which mirror `bot.toml` key for key (each field's `///` is the
//! documentation of that key, and `bot.toml.example` repeats it). Then
//! [`load_str`] resolves secrets from their inline, `_env` or
//! `_file` sources, checks every value, and returns either the runtime
//! [`Config`] or *every* problem it found, each naming its key path and line.
//! `check-config` and `serve` run exactly the same code.

pub mod actions;
pub mod chat;
pub mod locate;
pub mod secret;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::redact::RedactionPolicy;
use crate::routing::{self, Receiver, ReceiverFile, RouteFile, Router, RoutingFile};

pub use actions::{ActionKind, ActionPolicy, Clicker, InteractionsConfig, Role};
pub use chat::{DeliveryConfig, DiscordConfig, Rate, Rates, SlackConfig, TelegramConfig};
pub use locate::{KeyPath, SourceMap};
pub use secret::Secret;

/// The account name of the root endpoint, `POST /webhooks/stripe`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Default `[server] max_body_bytes`: 512 KiB. Stripe event payloads are a few KiB;
/// the largest (invoices with many lines) stay well below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 512 * 1024;

/// Default `[stripe] tolerance`: 300 s, the `DEFAULT_TOLERANCE` of Stripe's own SDKs.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

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
    pub stripe: StripeFile,
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
    pub slack: chat::SlackFile,
    /// `[discord]`: the bot token.
    pub discord: chat::DiscordFile,
    /// `[telegram]`: the bot token.
    pub telegram: chat::TelegramFile,
    /// `[delivery]`: retries, leases, folding and rate budgets.
    pub delivery: chat::DeliveryFile,
    /// `[roles.NAME]`: who is in which role, per platform.
    pub roles: BTreeMap<String, Role>,
    /// `[actions.NAME]`: who may press which button, and whether it asks first.
    pub actions: BTreeMap<String, actions::ActionFile>,
    /// `[interactions]`: how long buttons stay valid.
    pub interactions: actions::InteractionsFile,
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
}

impl Default for ServerFile {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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

/// `[stripe]`: the root webhook endpoint `POST /webhooks/stripe`, plus more accounts.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct StripeFile {
    /// Webhook signing secrets (`whsec_…`) of the root endpoint. Several are
    /// allowed while a secret is being rotated: a request is accepted when any
    /// of its `v1` signatures matches any of them.
    pub webhook_secrets: Vec<Secret>,
    /// Name of an environment variable holding more signing secrets, separated
    /// by commas, white space or new lines.
    pub webhook_secrets_env: Option<String>,
    /// Path of a file holding more signing secrets, one per line (`#` comments allowed).
    pub webhook_secrets_file: Option<PathBuf>,
    /// How old a signed timestamp may be, e.g. `"5m"`. Default 5 minutes, as Stripe's SDKs.
    #[serde(with = "humantime_serde")]
    pub tolerance: Duration,
    /// Stripe secret or restricted API key (`sk_…`/`rk_…`), used by button actions.
    pub api_key: Option<Secret>,
    /// Name of an environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Path of a file holding the API key.
    pub api_key_file: Option<PathBuf>,
    /// `[stripe.accounts.NAME]`: more Stripe accounts or Connect platforms,
    /// each with its own endpoint `POST /webhooks/stripe/NAME`.
    pub accounts: BTreeMap<String, AccountFile>,
    /// Stripe API base URL for the button actions; default `https://api.stripe.com`. For tests.
    pub api_base_url: Option<String>,
}

impl Default for StripeFile {
    fn default() -> Self {
        Self {
            webhook_secrets: Vec::new(),
            webhook_secrets_env: None,
            webhook_secrets_file: None,
            tolerance: DEFAULT_TOLERANCE,
            api_key: None,
            api_key_env: None,
            api_key_file: None,
            accounts: BTreeMap::new(),
            api_base_url: None,
        }
    }
}

/// `[stripe.accounts.NAME]`: one more webhook endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountFile {
    /// Name shown on cards for events of this account; defaults to NAME.
    pub display_name: Option<String>,
    /// Signing secrets of this endpoint (`whsec_…`).
    pub webhook_secrets: Vec<Secret>,
    /// Environment variable holding more signing secrets of this endpoint.
    pub webhook_secrets_env: Option<String>,
    /// File holding more signing secrets of this endpoint.
    pub webhook_secrets_file: Option<PathBuf>,
    /// Timestamp tolerance of this endpoint; defaults to `[stripe] tolerance`.
    #[serde(default, with = "humantime_serde")]
    pub tolerance: Option<Duration>,
    /// API key of this account; defaults to `[stripe] api_key`.
    pub api_key: Option<Secret>,
    /// Environment variable holding the API key of this account.
    pub api_key_env: Option<String>,
    /// File holding the API key of this account.
    pub api_key_file: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
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
}

/// The receiver every event reaches when `bot.toml` has no `[route]`.
pub const IMPLICIT_CONSOLE_RECEIVER: &str = "console";

/// Validated `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Largest accepted body.
    pub max_body_bytes: usize,
}

/// Validated `[storage]`.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
}

/// Validated `[stripe]`.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// Webhook endpoints by account name; [`DEFAULT_ACCOUNT`] is `POST /webhooks/stripe`.
    pub endpoints: BTreeMap<String, WebhookEndpoint>,
    /// The Stripe API base URL.
    pub api_base_url: String,
}

/// One webhook endpoint and what verifies its requests.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    /// Account name: [`DEFAULT_ACCOUNT`] or NAME of `[stripe.accounts.NAME]`.
    pub account: String,
    /// Name shown to people.
    pub display_name: String,
    /// Every signing secret currently accepted.
    pub secrets: Vec<Secret>,
    /// Largest accepted age of a signed timestamp.
    pub tolerance: Duration,
    /// API key for actions on this account, if one is configured.
    pub api_key: Option<Secret>,
}

impl Config {
    /// The endpoint of an account name, if it is configured.
    pub fn endpoint(&self, account: &str) -> Option<&WebhookEndpoint> {
        self.stripe.endpoints.get(account)
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

/// Where `*_env` and relative `*_file` sources are looked up. Tests pass their
/// own variables instead of changing the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: Option<BTreeMap<String, String>>,
}

impl Environment {
    /// The real process environment.
    pub fn process() -> Self {
        Self { vars: None }
    }

    /// A fixed set of variables.
    pub fn fixed(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: Some(vars.into_iter().collect()),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
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
    let config = file.validate_into(env, &mut errors);
    let mut errors = errors.into_vec();
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        Err(errors)
    }
}

/// Collects errors and finds their lines.
struct Errors<'a> {
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

    fn push(&mut self, path: KeyPath, message: impl Into<String>) {
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

/// The three ways a list of secrets can be given, under one key prefix.
struct SecretSources<'a> {
    inline: &'a [Secret],
    env: Option<&'a str>,
    file: Option<&'a Path>,
}

impl ConfigFile {
    fn validate_into(&self, env: &Environment, errors: &mut Errors<'_>) -> Config {
        let root = KeyPath::root();
        let server_path = root.key("server");
        let listen = match self.server.listen.parse::<SocketAddr>() {
            Ok(listen) => listen,
            Err(_) => {
                errors.push(
                    server_path.key("listen"),
                    format!(
                        "{:?} is not an address and port, e.g. \"127.0.0.1:8080\"",
                        self.server.listen
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        if self.server.max_body_bytes == 0 {
            errors.push(server_path.key("max_body_bytes"), "must be greater than 0");
        }

        let storage_path = root.key("storage");
        let url = self.storage.url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            errors.push(
                storage_path.key("url"),
                "must start with \"sqlite:\" (embedded) or \"postgres://\"",
            );
        }
        if self.storage.max_connections == 0 {
            errors.push(storage_path.key("max_connections"), "must be at least 1");
        }

        let stripe_path = root.key("stripe");
        check_tolerance(self.stripe.tolerance, stripe_path.key("tolerance"), errors);
        let default_api_key = resolve_one_secret(
            self.stripe.api_key.as_ref(),
            self.stripe.api_key_env.as_deref(),
            self.stripe.api_key_file.as_deref(),
            &stripe_path,
            "api_key",
            env,
            errors,
        );
        let mut endpoints = BTreeMap::new();
        let root_secrets = resolve_webhook_secrets(
            SecretSources {
                inline: &self.stripe.webhook_secrets,
                env: self.stripe.webhook_secrets_env.as_deref(),
                file: self.stripe.webhook_secrets_file.as_deref(),
            },
            &stripe_path,
            env,
            errors,
        );
        endpoints.insert(
            DEFAULT_ACCOUNT.to_owned(),
            WebhookEndpoint {
                account: DEFAULT_ACCOUNT.to_owned(),
                display_name: DEFAULT_ACCOUNT.to_owned(),
                secrets: root_secrets,
                tolerance: self.stripe.tolerance,
                api_key: default_api_key.clone(),
            },
        );
        for (name, account) in &self.stripe.accounts {
            let path = stripe_path.key("accounts").key(name);
            if name == DEFAULT_ACCOUNT {
                errors.push(
                    path.clone(),
                    "the name \"default\" is taken by the root endpoint /webhooks/stripe",
                );
            } else if !is_valid_account_name(name) {
                errors.push(
                    path.clone(),
                    "account names may use only letters, digits, '-' and '_' (it becomes the URL /webhooks/stripe/NAME)",
                );
            }
            let tolerance = account.tolerance.unwrap_or(self.stripe.tolerance);
            if account.tolerance.is_some() {
                check_tolerance(tolerance, path.key("tolerance"), errors);
            }
            let secrets = resolve_webhook_secrets(
                SecretSources {
                    inline: &account.webhook_secrets,
                    env: account.webhook_secrets_env.as_deref(),
                    file: account.webhook_secrets_file.as_deref(),
                },
                &path,
                env,
                errors,
            );
            let api_key = resolve_one_secret(
                account.api_key.as_ref(),
                account.api_key_env.as_deref(),
                account.api_key_file.as_deref(),
                &path,
                "api_key",
                env,
                errors,
            )
            .or_else(|| default_api_key.clone());
            endpoints.insert(
                name.clone(),
                WebhookEndpoint {
                    account: name.clone(),
                    display_name: account.display_name.clone().unwrap_or_else(|| name.clone()),
                    secrets,
                    tolerance,
                    api_key,
                },
            );
        }

        let accounts: Vec<&str> = endpoints.keys().map(String::as_str).collect();
        let (router, receivers) = if self.route.is_none() && self.receivers.is_empty() {
            let route = RouteFile {
                receiver: Some(IMPLICIT_CONSOLE_RECEIVER.to_owned()),
                ..RouteFile::default()
            };
            let console = ReceiverFile {
                name: IMPLICIT_CONSOLE_RECEIVER.to_owned(),
                slack: None,
                discord: None,
                telegram: None,
                console: Some(routing::ConsoleTarget {}),
                webhook: None,
                redaction: None,
                templates: None,
            };
            let (router, receivers, _) = routing::validate(
                &route,
                &[console],
                &self.routing,
                &self.redaction,
                &accounts,
            );
            (router, receivers)
        } else {
            let route = self.route.clone().unwrap_or_default();
            let (router, receivers, problems) = routing::validate(
                &route,
                &self.receivers,
                &self.routing,
                &self.redaction,
                &accounts,
            );
            for (path, message) in problems {
                errors.push(path, message);
            }
            (router, receivers)
        };

        if let Some(dir) = &self.templates.dir
            && !dir.is_dir()
        {
            errors.push(
                root.key("templates").key("dir"),
                format!("{} is not a folder", dir.display()),
            );
        }
        for (index, receiver) in self.receivers.iter().enumerate() {
            if let Some(dir) = receiver.templates.as_ref().filter(|d| !d.is_dir()) {
                errors.push(
                    root.key("receivers").index(index).key("templates"),
                    format!("{} is not a folder", dir.display()),
                );
            }
        }

        let stripe_api_base_url = chat::base_url(
            self.stripe.api_base_url.as_deref(),
            crate::stripe::api::STRIPE_API_URL,
            root.key("stripe").key("api_base_url"),
            errors,
        );
        let slack = self.slack.validate(env, errors);
        let discord = self.discord.validate(env, errors);
        let telegram = self.telegram.validate(env, errors);
        let delivery = self.delivery.validate(errors);
        let interactions =
            actions::validate(&self.roles, &self.actions, &self.interactions, errors);
        for (index, receiver) in self.receivers.iter().enumerate() {
            let path = root.key("receivers").index(index);
            if receiver.slack.is_some()
                && slack.bot_token.is_none()
                && slack.incoming_webhook_url.is_none()
            {
                errors.push(
                    path.key("slack"),
                    "Slack needs credentials: set [slack] bot_token (or incoming_webhook_url)",
                );
            }
            if receiver.discord.is_some() && discord.bot_token.is_none() {
                errors.push(
                    path.key("discord"),
                    "Discord needs credentials: set [discord] bot_token",
                );
            }
            if let Some(topic) = receiver
                .telegram
                .as_ref()
                .and_then(|t| t.subscribers.as_ref())
                && !telegram.topics.contains_key(topic)
            {
                errors.push(
                    path.key("telegram"),
                    format!("no [telegram.topics.{topic}] is defined for subscribers = {topic:?}"),
                );
            }
            if receiver.telegram.is_some() && telegram.bot_token.is_none() {
                errors.push(
                    path.key("telegram"),
                    "Telegram needs credentials: set [telegram] bot_token",
                );
            }
        }

        Config {
            slack,
            discord,
            telegram,
            delivery,
            interactions,
            router,
            receivers,
            templates_dir: self.templates.dir.clone(),
            redaction: self.redaction.clone(),
            server: ServerConfig {
                listen,
                max_body_bytes: self.server.max_body_bytes,
            },
            storage: StorageConfig {
                url: url.to_owned(),
                max_connections: self.storage.max_connections,
            },
            stripe: StripeConfig {
                endpoints,
                api_base_url: stripe_api_base_url,
            },
        }
    }
}

fn is_valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_tolerance(tolerance: Duration, path: KeyPath, errors: &mut Errors<'_>) {
    if tolerance.is_zero() {
        errors.push(path, "must be greater than 0, e.g. \"5m\"");
    } else if tolerance > Duration::from_secs(24 * 3600) {
        errors.push(
            path,
            "must be at most 24h: a longer window lets old requests be replayed",
        );
    }
}

/// Resolves the signing secrets of one endpoint from all its sources.
fn resolve_webhook_secrets(
    sources: SecretSources<'_>,
    table: &KeyPath,
    env: &Environment,
    errors: &mut Errors<'_>,
) -> Vec<Secret> {
    let mut secrets: Vec<(KeyPath, Secret)> = sources
        .inline
        .iter()
        .enumerate()
        .map(|(i, s)| (table.key("webhook_secrets").index(i), s.clone()))
        .collect();
    if let Some(var) = sources.env {
        let path = table.key("webhook_secrets_env");
        match env.var(var) {
            Some(value) => secrets.extend(
                secret::split_secret_list(&value)
                    .into_iter()
                    .map(|s| (path.clone(), s)),
            ),
            None => errors.push(path, format!("environment variable {var} is not set")),
        }
    }
    if let Some(file) = sources.file {
        let path = table.key("webhook_secrets_file");
        match std::fs::read_to_string(file) {
            Ok(text) => secrets.extend(
                secret::split_secret_list(&text)
                    .into_iter()
                    .map(|s| (path.clone(), s)),
            ),
            Err(error) => errors.push(path, format!("cannot read {}: {error}", file.display())),
        }
    }
    if secrets.is_empty() && sources.env.is_none() && sources.file.is_none() {
        errors.push(
            table.key("webhook_secrets"),
            "no webhook signing secret: set webhook_secrets, webhook_secrets_env or webhook_secrets_file \
             (Stripe Dashboard → Developers → Webhooks → your endpoint → Signing secret, or the output of `stripe listen`)",
        );
    }
    for (path, secret) in &secrets {
        if !secret.expose().starts_with("whsec_") || secret.expose().len() < 10 {
            errors.push(
                path.clone(),
                "is not a Stripe webhook signing secret (those start with \"whsec_\"); the value is not shown",
            );
        }
    }
    secrets.into_iter().map(|(_, s)| s).collect()
}

/// Resolves an optional single secret given inline, as `NAME_env` or `NAME_file`.
fn resolve_one_secret(
    inline: Option<&Secret>,
    env_var: Option<&str>,
    file: Option<&Path>,
    table: &KeyPath,
    name: &str,
    env: &Environment,
    errors: &mut Errors<'_>,
) -> Option<Secret> {
    let given = [inline.is_some(), env_var.is_some(), file.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        errors.push(
            table.key(name),
            format!("give only one of {name}, {name}_env and {name}_file"),
        );
    }
    if let Some(secret) = inline {
        return Some(secret.clone());
    }
    if let Some(var) = env_var {
        return match env
            .var(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        {
            Some(value) => Some(Secret::new(value)),
            None => {
                errors.push(
                    table.key(format!("{name}_env")),
                    format!("environment variable {var} is not set"),
                );
                None
            }
        };
    }
    if let Some(file) = file {
        return match std::fs::read_to_string(file) {
            Ok(text) if !text.trim().is_empty() => Some(Secret::new(text.trim())),
            Ok(_) => {
                errors.push(
                    table.key(format!("{name}_file")),
                    format!("{} is empty", file.display()),
                );
                None
            }
            Err(error) => {
                errors.push(
                    table.key(format!("{name}_file")),
                    format!("cannot read {}: {error}", file.display()),
                );
                None
            }
        };
    }
    None
}

#[cfg(test)]
mod tests;
