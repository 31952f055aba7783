//! The configuration in use, and reloading it while the service runs.
//!
//! Every part of the service reads the config through [`LiveConfig::get`]
//! for each event, message and click, so a reload applies to the next one
//! and nothing in flight sees half of two configs. [`Reloader::reload`]
//! reads `bot.toml` and the template folders again, validates all of it
//! first, and swaps the whole [`Snapshot`] at once only if everything is
//! valid; otherwise the running config stays, and every error is reported
//! with its key path. Settings that cannot change while running (the
//! listener, the store, the chat platforms' credentials and listeners, the
//! Stripe API host: see `keep_restart_only`) keep their old values and are
//! reported as needing a restart.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Config, Environment, LoadError, load_str};
use crate::render::Templates;
use crate::telemetry::Metrics;

/// One loaded configuration: the config, its templates, and where it came from.
#[derive(Debug)]
pub struct Snapshot {
    /// The validated config.
    pub config: Arc<Config>,
    /// Its card templates (folders read afresh at each load).
    pub templates: Arc<Templates>,
    /// 1 for the config the process started with, then +1 per applied reload.
    pub generation: u64,
    /// The first 12 hex digits of SHA-256 over `bot.toml` and the template files.
    pub hash: String,
    /// When it was loaded, Unix milliseconds.
    pub loaded_at_ms: i64,
}

/// The configuration in use; swapped whole by a reload.
#[derive(Debug)]
pub struct LiveConfig {
    current: RwLock<Arc<Snapshot>>,
}

impl LiveConfig {
    /// The config a process starts with (`text`: the file it came from, for its hash).
    pub fn new(config: Config, text: &str) -> Self {
        let templates = Arc::new(Templates::new(config.templates_dir.clone()));
        let snapshot = Snapshot {
            hash: hash(text, &config),
            config: Arc::new(config),
            templates,
            generation: 1,
            loaded_at_ms: now_ms(),
        };
        Self {
            current: RwLock::new(Arc::new(snapshot)),
        }
    }

    /// The snapshot in use.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The config in use.
    pub fn get(&self) -> Arc<Config> {
        self.snapshot().config.clone()
    }

    fn replace(&self, snapshot: Snapshot) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
    }
}

/// What a reload did, as `POST /-/reload` and `stripe-chatops reload` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// `applied`, `unchanged` or `invalid` (the running config stays).
    pub result: &'static str,
    /// Every problem found, with its key path and line (for `invalid`).
    pub errors: Vec<String>,
    /// Settings that changed in the file but apply only after a restart;
    /// they keep their running values.
    pub needs_restart: Vec<String>,
    /// The hash of the config in use after the reload.
    pub hash: String,
    /// Its generation.
    pub generation: u64,
}

/// Reloads `bot.toml` into a [`LiveConfig`].
pub struct Reloader {
    path: PathBuf,
    env: Environment,
    live: Arc<LiveConfig>,
    metrics: Arc<Metrics>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader of the file at `path`, with `*_env` secrets from `env`.
    pub fn new(
        path: PathBuf,
        env: Environment,
        live: Arc<LiveConfig>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let snapshot = live.snapshot();
        metrics.config_loaded(&snapshot.hash, snapshot.loaded_at_ms);
        Self {
            path,
            env,
            live,
            metrics,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads, validates and (when valid) applies the file; never leaves a half-applied config.
    pub async fn reload(&self) -> ReloadReport {
        let _one_at_a_time = self.running.lock().await;
        let current = self.live.snapshot();
        let report = |result, errors, needs_restart, snapshot: &Snapshot| ReloadReport {
            result,
            errors,
            needs_restart,
            hash: snapshot.hash.clone(),
            generation: snapshot.generation,
        };
        let loaded = match std::fs::read_to_string(&self.path) {
            Ok(text) => load_str(&text, &self.env)
                .map(|config| (config, text))
                .map_err(|errors| LoadError::Invalid {
                    path: self.path.clone(),
                    errors,
                }),
            Err(source) => Err(LoadError::Read {
                path: self.path.clone(),
                source,
            }),
        };
        let (config, text) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                let errors = match error {
                    LoadError::Invalid { errors, .. } => {
                        errors.iter().map(ToString::to_string).collect()
                    }
                    other => vec![other.to_string()],
                };
                for error in &errors {
                    tracing::error!(error = %error, "config reload refused; the running config stays");
                }
                self.metrics.config_reload("invalid");
                return report("invalid", errors, Vec::new(), &current);
            }
        };
        let templates = Templates::new(config.templates_dir.clone());
        let template_errors = check_templates(&templates, &config);
        if !template_errors.is_empty() {
            for error in &template_errors {
                tracing::error!(error = %error, "config reload refused; the running config stays");
            }
            self.metrics.config_reload("invalid");
            return report("invalid", template_errors, Vec::new(), &current);
        }
        let (config, needs_restart) = keep_restart_only(&current.config, config);
        for setting in &needs_restart {
            tracing::warn!(setting = %setting, "changed in bot.toml, but applies only after a restart; the running value stays");
        }
        let hash = hash(&text, &config);
        if hash == current.hash {
            self.metrics.config_reload("unchanged");
            return report("unchanged", Vec::new(), needs_restart, &current);
        }
        let snapshot = Snapshot {
            config: Arc::new(config),
            templates: Arc::new(templates),
            generation: current.generation + 1,
            hash,
            loaded_at_ms: now_ms(),
        };
        self.metrics
            .config_loaded(&snapshot.hash, snapshot.loaded_at_ms);
        self.metrics.config_reload("applied");
        tracing::info!(hash = %snapshot.hash, generation = snapshot.generation, "config reloaded; it applies to the next event and the next click");
        let applied = report("applied", Vec::new(), needs_restart, &snapshot);
        self.live.replace(snapshot);
        applied
    }
}

/// Compiles every override template a config uses, so that a broken one
/// refuses the reload instead of failing cards later.
fn check_templates(templates: &Templates, config: &Config) -> Vec<String> {
    let mut errors = Vec::new();
    for folder in override_folders(config) {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".card") {
                continue;
            }
            if let Err(error) = templates.compile(Some(&folder), &name) {
                errors.push(format!("{}: {error}", folder.join(&name).display()));
            }
        }
    }
    errors
}

/// The new config with the running values of every restart-only setting
/// (Telegram's topics apply live, the rest of `[telegram]` does not), and
/// the names of the sections whose values were kept.
fn keep_restart_only(running: &Config, new: Config) -> (Config, Vec<String>) {
    let kept = Config {
        server: running.server.clone(),
        storage: running.storage.clone(),
        slack: running.slack.clone(),
        discord: running.discord.clone(),
        telegram: super::TelegramConfig {
            topics: new.telegram.topics.clone(),
            ..running.telegram.clone()
        },
        stripe: super::StripeConfig {
            api_base_url: running.stripe.api_base_url.clone(),
            ..new.stripe.clone()
        },
        ..new.clone()
    };
    let changed = [
        ("server", kept.server != new.server),
        ("storage", kept.storage != new.storage),
        ("slack", kept.slack != new.slack),
        ("discord", kept.discord != new.discord),
        ("telegram", kept.telegram != new.telegram),
        (
            "stripe.api_base_url",
            kept.stripe.api_base_url != new.stripe.api_base_url,
        ),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| format!("{name}: needs a restart"))
    .collect();
    (kept, changed)
}

/// The template folders a config overrides templates from.
fn override_folders(config: &Config) -> impl Iterator<Item = PathBuf> + '_ {
    config
        .receivers
        .values()
        .filter_map(|r| r.templates.clone())
        .chain(config.templates_dir.clone())
}

/// SHA-256 over the file and every override template file, shortened.
fn hash(text: &str, config: &Config) -> String {
    let mut digest = Sha256::new();
    digest.update(text.as_bytes());
    for folder in override_folders(config) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files {
            digest.update(file.to_string_lossy().as_bytes());
            digest.update(std::fs::read(&file).unwrap_or_default());
        }
    }
    hex::encode(digest.finalize())[..12].to_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
