//! `[stripe]` and `[stripe.accounts.NAME]`: the webhook endpoints, their
//! signing secrets and tolerances, and the API keys of the button actions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::sources::{
    Environment, SecretSources, base_url, resolve_one_secret, resolve_webhook_secrets,
};
use super::{Errors, KeyPath};
use crate::event::DEFAULT_ACCOUNT;
use crate::secret::Secret;

/// Stripe's API host, the default of `[stripe] api_base_url`.
pub const STRIPE_API_URL: &str = "https://api.stripe.com";

/// Default `[stripe] tolerance`: 300 s, the `DEFAULT_TOLERANCE` of Stripe's own SDKs.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

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
    /// Stripe API base URL; default `https://api.stripe.com`. For tests.
    pub api_base_url: Option<String>,
    /// The `Stripe-Version` every API request pins, so that the objects the
    /// bot reads keep their shape whatever the account's default version is.
    /// Default `"2025-03-31.basil"`.
    pub api_version: String,
    /// How long one Stripe API request may take before it is abandoned
    /// (and retried when that is safe). Default `"10s"`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How many times a request is retried after a 429, a 5xx or a lost
    /// connection; only reads and writes that carry an `Idempotency-Key`
    /// are retried. Default 2.
    pub max_retries: u32,
    /// Most API requests per second per account, kept below Stripe's own
    /// limit (25/s in test mode, 100/s live). Default 20 for test keys and
    /// 80 for live keys.
    pub requests_per_second: Option<u32>,
    /// `"webhook"` (default): events arrive on the webhook endpoints.
    /// `"poll"`: the bot fetches them with `GET /v1/events` every
    /// `poll_every` and needs no inbound port for Stripe at all.
    pub mode: StripeMode,
    /// How often poll mode asks Stripe for new events. Default `"5s"`.
    #[serde(with = "humantime_serde")]
    pub poll_every: Duration,
    /// How often the bot fetches events it may have missed (`GET /v1/events`
    /// since the newest one stored), besides once at start. `"0s"` turns
    /// catch-up off. Default `"10m"`. Needs an API key.
    #[serde(with = "humantime_serde")]
    pub catch_up_every: Duration,
    /// How far back before the newest stored event catch-up and polling
    /// look again, for events Stripe created out of order. Default `"5m"`.
    #[serde(with = "humantime_serde")]
    pub catch_up_overlap: Duration,
    /// Whether cards are completed with what Stripe's API knows (decline
    /// reason, card, subscription status, customer name). Default true;
    /// needs an API key.
    pub enrich: bool,
    /// How long a card waits for that before it is posted with what is
    /// known; it is completed by an edit when Stripe answers later. Default `"2s"`.
    #[serde(with = "humantime_serde")]
    pub enrich_wait: Duration,
    /// How long an object read from Stripe is reused. Default `"5m"`.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most objects kept in that cache. Default 10000.
    pub cache_size: u64,
}

/// `[stripe] mode`: how events reach the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeMode {
    /// Stripe posts them to the webhook endpoints.
    #[default]
    Webhook,
    /// The bot lists them with `GET /v1/events`.
    Poll,
}

/// Default `[stripe] api_version`.
pub const DEFAULT_API_VERSION: &str = "2025-03-31.basil";

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
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: Duration::from_secs(10),
            max_retries: 2,
            requests_per_second: None,
            mode: StripeMode::Webhook,
            poll_every: Duration::from_secs(5),
            catch_up_every: Duration::from_secs(600),
            catch_up_overlap: Duration::from_secs(300),
            enrich: true,
            enrich_wait: Duration::from_secs(2),
            cache_ttl: Duration::from_secs(300),
            cache_size: 10_000,
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

/// Validated `[stripe]`.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// Webhook endpoints by account name; [`DEFAULT_ACCOUNT`] is `POST /webhooks/stripe`.
    pub endpoints: BTreeMap<String, WebhookEndpoint>,
    /// The Stripe API base URL.
    pub api_base_url: String,
    /// How the bot talks to Stripe's API.
    pub api: ApiSettings,
    /// How events arrive.
    pub mode: StripeMode,
    /// Poll mode's interval.
    pub poll_every: Duration,
    /// Catch-up's interval; zero when it is off.
    pub catch_up_every: Duration,
    /// How far catch-up and polling look back before the newest stored event.
    pub catch_up_overlap: Duration,
    /// Enrichment of cards from the API.
    pub enrichment: Enrichment,
}

/// `[stripe]` settings of the API client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// The pinned `Stripe-Version`.
    pub version: String,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Retries of a failed idempotent request.
    pub max_retries: u32,
    /// Requests per second per account, when set.
    pub requests_per_second: Option<u32>,
}

/// `[stripe]` settings of card enrichment.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    /// Whether cards are enriched.
    pub enabled: bool,
    /// How long a card waits for it.
    pub wait: Duration,
    /// How long a read object is reused.
    pub cache_ttl: Duration,
    /// Most cached objects.
    pub cache_size: u64,
}

impl StripeConfig {
    /// The accounts that have an API key, by name.
    pub fn keyed_accounts(&self) -> impl Iterator<Item = &WebhookEndpoint> {
        self.endpoints.values().filter(|e| e.api_key.is_some())
    }
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

impl StripeFile {
    /// Validates `[stripe]`: every endpoint with its secrets, tolerance and API key.
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> StripeConfig {
        let stripe_path = KeyPath::root().key("stripe");
        check_tolerance(self.tolerance, stripe_path.key("tolerance"), errors);
        let default_api_key = resolve_one_secret(
            self.api_key.as_ref(),
            self.api_key_env.as_deref(),
            self.api_key_file.as_deref(),
            &stripe_path,
            "api_key",
            env,
            errors,
        );
        let mut endpoints = BTreeMap::new();
        let root_secrets = resolve_webhook_secrets(
            SecretSources {
                inline: &self.webhook_secrets,
                env: self.webhook_secrets_env.as_deref(),
                file: self.webhook_secrets_file.as_deref(),
                required: self.mode == StripeMode::Webhook,
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
                tolerance: self.tolerance,
                api_key: default_api_key.clone(),
            },
        );
        for (name, account) in &self.accounts {
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
            let tolerance = account.tolerance.unwrap_or(self.tolerance);
            if account.tolerance.is_some() {
                check_tolerance(tolerance, path.key("tolerance"), errors);
            }
            let secrets = resolve_webhook_secrets(
                SecretSources {
                    inline: &account.webhook_secrets,
                    env: account.webhook_secrets_env.as_deref(),
                    file: account.webhook_secrets_file.as_deref(),
                    required: self.mode == StripeMode::Webhook,
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
        if self.api_version.trim().is_empty() {
            errors.push(
                stripe_path.key("api_version"),
                "must name a Stripe API version, e.g. \"2025-03-31.basil\"",
            );
        }
        if self.timeout.is_zero() {
            errors.push(
                stripe_path.key("timeout"),
                "must be greater than 0, e.g. \"10s\"",
            );
        }
        if self.max_retries > 10 {
            errors.push(stripe_path.key("max_retries"), "must be at most 10");
        }
        if let Some(rate) = self.requests_per_second
            && !(1..=100).contains(&rate)
        {
            errors.push(
                stripe_path.key("requests_per_second"),
                "must be between 1 and 100 (Stripe allows 25/s in test mode and 100/s live)",
            );
        }
        if self.poll_every < Duration::from_secs(1) {
            errors.push(
                stripe_path.key("poll_every"),
                "must be at least 1s: each poll is one API request",
            );
        }
        if !self.catch_up_every.is_zero() && self.catch_up_every < Duration::from_secs(10) {
            errors.push(
                stripe_path.key("catch_up_every"),
                "must be at least 10s, or \"0s\" to turn catch-up off",
            );
        }
        if self.enrich_wait > Duration::from_secs(30) {
            errors.push(
                stripe_path.key("enrich_wait"),
                "must be at most 30s: cards wait this long for Stripe",
            );
        }
        if self.mode == StripeMode::Poll && !endpoints.values().any(|e| e.api_key.is_some()) {
            errors.push(
                stripe_path.key("mode"),
                "poll mode reads events with the API: set [stripe] api_key (a restricted key with read access to events is enough)",
            );
        }
        StripeConfig {
            endpoints,
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                STRIPE_API_URL,
                stripe_path.key("api_base_url"),
                errors,
            ),
            api: ApiSettings {
                version: self.api_version.trim().to_owned(),
                timeout: self.timeout,
                max_retries: self.max_retries,
                requests_per_second: self.requests_per_second,
            },
            mode: self.mode,
            poll_every: self.poll_every,
            catch_up_every: self.catch_up_every,
            catch_up_overlap: self.catch_up_overlap,
            enrichment: Enrichment {
                enabled: self.enrich,
                wait: self.enrich_wait,
                cache_ttl: self.cache_ttl,
                cache_size: self.cache_size.max(1),
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
