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
        StripeConfig {
            endpoints,
            api_base_url: base_url(
                self.api_base_url.as_deref(),
                STRIPE_API_URL,
                stripe_path.key("api_base_url"),
                errors,
            ),
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
