//! From the file as written to the runtime [`Config`]: each section is
//! validated by its own file; this one checks `[server]`, `[storage]` and
//! `[templates]`, builds the route tree, and checks what spans sections (a
//! receiver on a platform needs that platform's credentials).

use std::net::SocketAddr;
use std::time::Duration;

use super::receivers::{ConsoleTarget, ReceiverFile};
use super::routes::{self, RouteFile};
use super::sources::resolve_one_secret;
use super::{
    Config, ConfigFile, Environment, Errors, IMPLICIT_CONSOLE_RECEIVER, KeyPath, ServerConfig,
    StorageConfig, actions,
};

impl ConfigFile {
    /// Validates every section, collecting every error.
    pub(super) fn validate(&self, env: &Environment, errors: &mut Errors<'_>) -> Config {
        let server = self.validate_server(env, errors);
        let storage = self.validate_storage(errors);
        let stripe = self.stripe.validate(env, errors);
        let accounts: Vec<&str> = stripe.endpoints.keys().map(String::as_str).collect();
        let (router, receivers) = self.validate_routes(&accounts, errors);
        self.validate_templates(errors);
        let slack = self.slack.validate(env, errors);
        let discord = self.discord.validate(env, errors);
        let telegram = self.telegram.validate(env, errors);
        let delivery = self.delivery.validate(errors);
        let interactions =
            actions::validate(&self.roles, &self.actions, &self.interactions, errors);
        let config = Config {
            slack,
            discord,
            telegram,
            delivery,
            interactions,
            router,
            receivers,
            templates_dir: self.templates.dir.clone(),
            redaction: self.redaction.clone(),
            server,
            storage,
            stripe,
            cards: self.cards.clone(),
            schedule: super::schedule::ScheduleConfig::default(),
            payments: super::payments::PaymentsConfig::default(),
        };
        let schedule = super::schedule::validate(
            &self.reminders,
            self.escalation.as_ref(),
            &self.summaries,
            &config.receivers,
            &config.interactions.assignees,
            errors,
        );
        let payments = super::payments::validate(&self.payments, &config.receivers, errors);
        let config = Config {
            schedule,
            payments,
            ..config
        };
        self.check_credentials(&config, errors);
        config
    }

    fn validate_server(&self, env: &Environment, errors: &mut Errors<'_>) -> ServerConfig {
        let path = KeyPath::root().key("server");
        let listen = match self.server.listen.parse::<SocketAddr>() {
            Ok(listen) => listen,
            Err(_) => {
                errors.push(
                    path.key("listen"),
                    format!(
                        "{:?} is not an address and port, e.g. \"127.0.0.1:8080\"",
                        self.server.listen
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        if self.server.max_body_bytes == 0 {
            errors.push(path.key("max_body_bytes"), "must be greater than 0");
        }
        for (key, value) in [
            ("request_head_timeout", self.server.request_head_timeout),
            ("request_body_timeout", self.server.request_body_timeout),
            ("keep_alive_timeout", self.server.keep_alive_timeout),
        ] {
            if value < Duration::from_millis(100) {
                errors.push(path.key(key), "must be at least 100ms, e.g. \"10s\"");
            } else if value > Duration::from_secs(600) {
                errors.push(
                    path.key(key),
                    "must be at most 10m: a slow client would hold a connection that long",
                );
            }
        }
        if self.server.max_connections < 16 {
            errors.push(
                path.key("max_connections"),
                "must be at least 16 (Stripe, the chat platforms and probes share it)",
            );
        }
        let admin_token = resolve_one_secret(
            self.server.admin_token.as_ref(),
            self.server.admin_token_env.as_deref(),
            self.server.admin_token_file.as_deref(),
            &path,
            "admin_token",
            env,
            errors,
        );
        if admin_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            errors.push(
                path.key("admin_token"),
                "must be at least 16 characters; the value is not shown",
            );
        }
        ServerConfig {
            listen,
            max_body_bytes: self.server.max_body_bytes,
            request_head_timeout: self.server.request_head_timeout,
            request_body_timeout: self.server.request_body_timeout,
            keep_alive_timeout: self.server.keep_alive_timeout,
            max_connections: self.server.max_connections,
            admin_token,
        }
    }

    fn validate_storage(&self, errors: &mut Errors<'_>) -> StorageConfig {
        let path = KeyPath::root().key("storage");
        let url = self.storage.url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            errors.push(
                path.key("url"),
                "must start with \"sqlite:\" (embedded) or \"postgres://\"",
            );
        }
        if self.storage.max_connections == 0 {
            errors.push(path.key("max_connections"), "must be at least 1");
        }
        StorageConfig {
            url: url.to_owned(),
            max_connections: self.storage.max_connections,
        }
    }

    /// The route tree and the receivers; without either, one console receiver gets everything.
    fn validate_routes(
        &self,
        accounts: &[&str],
        errors: &mut Errors<'_>,
    ) -> (
        crate::routing::Router,
        std::collections::BTreeMap<String, routes::Receiver>,
    ) {
        if self.route.is_none() && self.receivers.is_empty() {
            let route = RouteFile {
                receiver: Some(IMPLICIT_CONSOLE_RECEIVER.to_owned()),
                ..RouteFile::default()
            };
            let console = ReceiverFile {
                name: IMPLICIT_CONSOLE_RECEIVER.to_owned(),
                slack: None,
                discord: None,
                telegram: None,
                console: Some(ConsoleTarget {}),
                webhook: None,
                redaction: None,
                templates: None,
            };
            let (router, receivers, _) =
                routes::validate(&route, &[console], &self.routing, &self.redaction, accounts);
            return (router, receivers);
        }
        let route = self.route.clone().unwrap_or_default();
        let (router, receivers, problems) = routes::validate(
            &route,
            &self.receivers,
            &self.routing,
            &self.redaction,
            accounts,
        );
        for (path, message) in problems {
            errors.push(path, message);
        }
        (router, receivers)
    }

    fn validate_templates(&self, errors: &mut Errors<'_>) {
        let root = KeyPath::root();
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
    }

    /// A receiver on a platform needs that platform's credentials (and a
    /// Telegram subscriber receiver, its topic).
    fn check_credentials(&self, config: &Config, errors: &mut Errors<'_>) {
        for (index, receiver) in self.receivers.iter().enumerate() {
            let path = KeyPath::root().key("receivers").index(index);
            if receiver.slack.is_some()
                && config.slack.bot_token.is_none()
                && config.slack.incoming_webhook_url.is_none()
            {
                errors.push(
                    path.key("slack"),
                    "Slack needs credentials: set [slack] bot_token (or incoming_webhook_url)",
                );
            }
            if receiver.discord.is_some() && config.discord.bot_token.is_none() {
                errors.push(
                    path.key("discord"),
                    "Discord needs credentials: set [discord] bot_token",
                );
            }
            if let Some(topic) = receiver
                .telegram
                .as_ref()
                .and_then(|t| t.subscribers.as_ref())
                && !config.telegram.topics.contains_key(topic)
            {
                errors.push(
                    path.key("telegram"),
                    format!("no [telegram.topics.{topic}] is defined for subscribers = {topic:?}"),
                );
            }
            if receiver.telegram.is_some() && config.telegram.bot_token.is_none() {
                errors.push(
                    path.key("telegram"),
                    "Telegram needs credentials: set [telegram] bot_token",
                );
            }
        }
    }
}
