//! Where values come from: the process environment (or a fixed one in
//! tests), and the three ways a secret can be given (inline, `*_env`,
//! `*_file`), resolved with an error per key that cannot be read.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Errors, KeyPath};

/// The shortest signing secret accepted: `whsec_` and a few characters. The
/// HMAC works with any key; a shorter one is a typo or a placeholder.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 10;
use crate::secret::{Secret, split_secret_list};

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

    pub(super) fn var(&self, name: &str) -> Option<String> {
        match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// The three ways a list of secrets can be given, under one key prefix.
pub(super) struct SecretSources<'a> {
    pub(super) inline: &'a [Secret],
    pub(super) env: Option<&'a str>,
    pub(super) file: Option<&'a Path>,
    /// Whether at least one is needed (not in poll mode, where no webhook arrives).
    pub(super) required: bool,
}

/// Resolves the signing secrets of one endpoint from all its sources.
pub(super) fn resolve_webhook_secrets(
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
                split_secret_list(&value)
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
                split_secret_list(&text)
                    .into_iter()
                    .map(|s| (path.clone(), s)),
            ),
            Err(error) => errors.push(path, format!("cannot read {}: {error}", file.display())),
        }
    }
    if sources.required && secrets.is_empty() && sources.env.is_none() && sources.file.is_none() {
        errors.push(
            table.key("webhook_secrets"),
            "no webhook signing secret: set webhook_secrets, webhook_secrets_env or webhook_secrets_file \
             (Stripe Dashboard → Developers → Webhooks → your endpoint → Signing secret, or the output of `stripe listen`)",
        );
    }
    for (path, secret) in &secrets {
        let value = secret.expose();
        if !value.starts_with("whsec_") {
            errors.push(
                path.clone(),
                "is not a Stripe webhook signing secret (those start with \"whsec_\"); the value is not shown",
            );
        } else if value.len() < MIN_WEBHOOK_SECRET_LEN {
            errors.push(
                path.clone(),
                format!(
                    "is too short for a webhook signing secret: it needs at least {MIN_WEBHOOK_SECRET_LEN} characters, \"whsec_\" included (Stripe's are about 38); the value is not shown"
                ),
            );
        }
    }
    secrets.into_iter().map(|(_, s)| s).collect()
}

/// Resolves an optional single secret given inline, as `NAME_env` or `NAME_file`.
pub(super) fn resolve_one_secret(
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

/// Checks a base URL: `http://` or `https://`, no trailing slash kept.
pub(super) fn base_url(
    given: Option<&str>,
    default: &str,
    path: KeyPath,
    errors: &mut Errors<'_>,
) -> String {
    let Some(url) = given else {
        return default.to_owned();
    };
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || reqwest::Url::parse(url).is_err()
    {
        errors.push(path, format!("{url:?} is not an http:// or https:// URL"));
        return default.to_owned();
    }
    url.to_owned()
}
