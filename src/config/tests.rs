//! Table tests for loading and validating `bot.toml`.

use super::*;
use std::time::Duration;

use crate::platform::Platform;

const SECRET: &str = "whsec_0123456789abcdef";

fn no_env() -> Environment {
    Environment::fixed([])
}

fn errors_of(text: &str) -> Vec<String> {
    match load_str(text, &no_env()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_shipped_example_parses_and_validates() {
    let text = include_str!("../../bot.toml.example");
    let config = load_str(text, &no_env()).unwrap_or_else(|errors| {
        panic!("bot.toml.example is invalid: {errors:#?}");
    });
    assert!(config.endpoint(DEFAULT_ACCOUNT).is_some());
    assert!(config.storage.url.starts_with("sqlite:"));
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let config = load_str(
        &format!("[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n"),
        &no_env(),
    )
    .unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.max_body_bytes, 512 * 1024);
    assert_eq!(config.storage.url, "sqlite://./data/stripe-chatops.db");
    let endpoint = config.endpoint(DEFAULT_ACCOUNT).unwrap();
    assert_eq!(endpoint.tolerance, Duration::from_secs(300));
    assert_eq!(endpoint.secrets.len(), 1);
}

#[test]
fn every_error_is_reported_with_its_path_and_line() {
    let text = format!(
        "[server]\nlisten = \"not an address\"\nlisen = 1\n\n[storage]\nurl = \"mysql://x\"\n\n[stripe]\nwebhook_secrets = [\"{SECRET}\", \"sk_live_oops\"]\ntolerance = \"0s\"\n\n[stripe.accounts.eu]\ncolour = \"red\"\n"
    );
    let errors = errors_of(&text);
    let expected = [
        "server.listen (line 2): \"not an address\" is not an address and port, e.g. \"127.0.0.1:8080\"",
        "server.lisen (line 3): unknown key (check its spelling and the section it is in)",
        "storage.url (line 6): must start with \"sqlite:\" (embedded) or \"postgres://\"",
        "stripe.webhook_secrets[1] (line 9): is not a Stripe webhook signing secret (those start with \"whsec_\"); the value is not shown",
        "stripe.tolerance (line 10): must be greater than 0, e.g. \"5m\"",
        "stripe.accounts.eu (line 12): no webhook signing secret",
        "stripe.accounts.eu.colour (line 13): unknown key (check its spelling and the section it is in)",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, expected) in errors.iter().zip(expected) {
        if expected.contains("no webhook signing secret") {
            assert!(
                error.starts_with(
                    "stripe.accounts.eu.webhook_secrets (line 12): no webhook signing secret"
                ),
                "{error}"
            );
        } else {
            assert_eq!(error, expected);
        }
    }
}

#[test]
fn errors_never_contain_secret_values() {
    let text = "[stripe]\nwebhook_secrets = [\"not-a-secret-but-private-123\"]\n";
    let errors = errors_of(text);
    assert_eq!(errors.len(), 1);
    assert!(
        !errors[0].contains("not-a-secret-but-private-123"),
        "{}",
        errors[0]
    );
}

#[test]
fn type_errors_name_the_key_and_line() {
    let text =
        format!("[server]\nmax_body_bytes = \"big\"\n[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("server.max_body_bytes (line 2): invalid type"),
        "{}",
        errors[0]
    );
}

#[test]
fn syntax_errors_give_a_line() {
    let errors = errors_of("[server\nlisten = 1\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("(line 1)"), "{}", errors[0]);
}

#[test]
fn secrets_come_from_env_and_file_and_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets");
    std::fs::write(
        &file,
        "# old one, remove after 2026-12-01\nwhsec_fromfile1\n",
    )
    .unwrap();
    let text = format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\nwebhook_secrets_env = \"HOOK_SECRETS\"\nwebhook_secrets_file = {:?}\napi_key_env = \"STRIPE_KEY\"\n",
        file.display().to_string()
    );
    let env = Environment::fixed([
        (
            "HOOK_SECRETS".to_owned(),
            "whsec_fromenv1,whsec_fromenv2".to_owned(),
        ),
        ("STRIPE_KEY".to_owned(), "sk_test_abc".to_owned()),
    ]);
    let config = load_str(&text, &env).unwrap();
    let endpoint = config.endpoint(DEFAULT_ACCOUNT).unwrap();
    let raw: Vec<&str> = endpoint.secrets.iter().map(Secret::expose).collect();
    assert_eq!(
        raw,
        [
            SECRET,
            "whsec_fromenv1",
            "whsec_fromenv2",
            "whsec_fromfile1"
        ]
    );
    assert_eq!(
        endpoint.api_key.as_ref().map(Secret::expose),
        Some("sk_test_abc")
    );
    assert!(!format!("{config:?}").contains("whsec_fromenv1"));
}

#[test]
fn missing_env_and_file_sources_are_errors() {
    let text = "[stripe]\nwebhook_secrets_env = \"NOPE\"\nwebhook_secrets_file = \"/nonexistent/secrets\"\n";
    let errors = errors_of(text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "stripe.webhook_secrets_env (line 2): environment variable NOPE is not set"
        )
    );
    assert!(
        errors[1]
            .starts_with("stripe.webhook_secrets_file (line 3): cannot read /nonexistent/secrets")
    );
}

#[test]
fn accounts_get_their_own_endpoint_and_inherit_tolerance() {
    let text = format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\ntolerance = \"2m\"\n[stripe.accounts.eu-platform]\ndisplay_name = \"EU\"\nwebhook_secrets = [\"whsec_eu_0123456\"]\n"
    );
    let config = load_str(&text, &no_env()).unwrap();
    let eu = config.endpoint("eu-platform").unwrap();
    assert_eq!(eu.display_name, "EU");
    assert_eq!(eu.tolerance, Duration::from_secs(120));
    assert_eq!(eu.secrets[0].expose(), "whsec_eu_0123456");
}

#[test]
fn bad_account_names_are_refused() {
    for (name, message) in [
        ("\"default\"", "taken by the root endpoint"),
        ("\"eu/west\"", "only letters, digits"),
    ] {
        let text = format!(
            "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n[stripe.accounts.{name}]\nwebhook_secrets = [\"{SECRET}\"]\n"
        );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].contains(message), "{}", errors[0]);
    }
}

#[test]
fn api_key_sources_are_exclusive() {
    let text = format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\napi_key = \"sk_test_x\"\napi_key_file = \"/x\"\n"
    );
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("give only one of api_key")),
        "{errors:#?}"
    );
}

#[test]
fn chat_platform_and_delivery_errors_name_their_keys() {
    let text = format!(
        r#"[stripe]
webhook_secrets = ["{SECRET}"]

[slack]
api_base_url = "ftp://slack"

[telegram]
bot_token = "no-colon"
bot_token_env = "TELEGRAM_TOKEN"

[delivery]
retry_schedule = []
lease = "0s"

[delivery.telegram]
per_group = "twenty a minute"
burst = 0

[[receivers]]
name = "finance"
slack = {{ channel = "C1" }}

[[receivers]]
name = "ops"
discord = {{ channel_id = "1" }}

[route]
receiver = "finance"

[[route.routes]]
event_types = ["payout.*"]
receiver = "ops"
"#
    );
    let errors = errors_of(&text);
    let expected = [
        "slack.api_base_url (line 5): \"ftp://slack\" is not an http:// or https:// URL",
        "telegram.bot_token (line 8): give only one of bot_token, bot_token_env and bot_token_file",
        "telegram.bot_token (line 8): does not look like a Telegram bot token (\"123456:ABC…\" from @BotFather)",
        "delivery.retry_schedule (line 12): needs at least one wait, e.g. [\"1s\", \"30s\", \"5m\"]",
        "delivery.lease (line 13): must be at least 1s: it is renewed every third of itself",
        "delivery.telegram.per_group (line 16): \"twenty a minute\" is not a rate like \"1/s\", \"20/m\" or \"5/5s\"",
        "delivery.telegram.burst (line 17): must be at least 1",
        "receivers[0].slack (line 19): Slack needs credentials: set [slack] bot_token (or incoming_webhook_url)",
        "receivers[1].discord (line 23): Discord needs credentials: set [discord] bot_token",
    ];
    for expected in expected {
        assert!(
            errors.iter().any(|e| e == expected),
            "missing {expected:?} in {errors:#?}"
        );
    }
    assert!(
        !errors.iter().any(|e| e.contains("no-colon")),
        "the token value is never shown"
    );
}

#[test]
fn chat_credentials_come_from_env_or_file_and_defaults_are_the_documented_limits() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("discord");
    std::fs::write(&token_file, "discord-token\n").unwrap();
    let text = format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n[slack]\nbot_token_env = \"SLACK\"\n[discord]\nbot_token_file = \"{}\"\n[delivery.slack]\nper_destination = \"2/5s\"\n",
        token_file.display()
    );
    let env = Environment::fixed([("SLACK".to_owned(), "xoxb-1".to_owned())]);
    let config = load_str(&text, &env).unwrap();
    assert_eq!(config.slack.bot_token.unwrap().expose(), "xoxb-1");
    assert_eq!(config.slack.api_base_url, slack::SLACK_API_URL);
    assert_eq!(config.discord.bot_token.unwrap().expose(), "discord-token");
    assert_eq!(
        config
            .delivery
            .rates(Platform::Slack)
            .unwrap()
            .per_destination,
        Rate {
            count: 2,
            per: Duration::from_secs(5)
        }
    );
    assert_eq!(
        config.delivery.rates(Platform::Telegram),
        Some(&Rates::TELEGRAM)
    );
    assert_eq!(config.delivery.retry_schedule.len(), 7);
    assert_eq!(config.delivery.fold_after, Duration::from_secs(10));
}

#[test]
fn a_short_signing_secret_is_refused_for_its_length_not_its_prefix() {
    let errors = errors_of("[stripe]\nwebhook_secrets = [\"whsec_x\"]\n");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("stripe.webhook_secrets[0] (line 2): is too short for a webhook signing secret: it needs at least 10 characters"),
        "{}",
        errors[0]
    );
    assert!(!errors[0].contains("whsec_x"), "the value is not shown");
}

#[test]
fn server_timeouts_caps_and_admin_token_are_checked() {
    let text = format!(
        "[server]\nrequest_head_timeout = \"0s\"\nkeep_alive_timeout = \"1h\"\nmax_connections = 2\nadmin_token = \"short\"\n[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n"
    );
    let errors = errors_of(&text);
    assert_eq!(
        errors,
        [
            "server.request_head_timeout (line 2): must be at least 100ms, e.g. \"10s\"",
            "server.keep_alive_timeout (line 3): must be at most 10m: a slow client would hold a connection that long",
            "server.max_connections (line 4): must be at least 16 (Stripe, the chat platforms and probes share it)",
            "server.admin_token (line 5): must be at least 16 characters; the value is not shown",
        ]
    );
    let config = load_str(
        &format!("[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n"),
        &no_env(),
    )
    .unwrap();
    assert_eq!(
        config.server.request_head_timeout,
        DEFAULT_REQUEST_HEAD_TIMEOUT
    );
    assert_eq!(
        config.server.request_body_timeout,
        DEFAULT_REQUEST_BODY_TIMEOUT
    );
    assert_eq!(config.server.keep_alive_timeout, DEFAULT_KEEP_ALIVE_TIMEOUT);
    assert_eq!(config.server.max_connections, DEFAULT_MAX_CONNECTIONS);
}

#[test]
fn poll_mode_needs_an_api_key_and_no_signing_secret() {
    let config = load_str(
        "[stripe]\nmode = \"poll\"\napi_key = \"sk_test_poll_0123\"\npoll_every = \"2s\"\n",
        &no_env(),
    )
    .unwrap();
    assert_eq!(config.stripe.mode, stripe::StripeMode::Poll);
    assert_eq!(config.stripe.poll_every, Duration::from_secs(2));
    assert!(config.endpoint(DEFAULT_ACCOUNT).unwrap().secrets.is_empty());
    let errors = errors_of("[stripe]\nmode = \"poll\"\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("stripe.mode (line 2): poll mode reads events with the API"));
}

#[test]
fn stripe_api_settings_have_defaults_and_bounds() {
    let config = load_str(
        &format!("[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n"),
        &no_env(),
    )
    .unwrap();
    assert_eq!(config.stripe.api.version, "2025-03-31.basil");
    assert_eq!(config.stripe.api.timeout, Duration::from_secs(10));
    assert_eq!(config.stripe.catch_up_every, Duration::from_secs(600));
    assert_eq!(config.stripe.enrichment.wait, Duration::from_secs(2));
    assert!(config.stripe.enrichment.enabled);
    let errors = errors_of(&format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\nrequests_per_second = 500\ncatch_up_every = \"3s\"\nenrich_wait = \"1m\"\n[interactions]\nlookup_roles = [\"nobody\"]\n"
    ));
    assert_eq!(
        errors,
        [
            "stripe.requests_per_second (line 3): must be between 1 and 100 (Stripe allows 25/s in test mode and 100/s live)",
            "stripe.catch_up_every (line 4): must be at least 10s, or \"0s\" to turn catch-up off",
            "stripe.enrich_wait (line 5): must be at most 30s: cards wait this long for Stripe",
            "interactions.lookup_roles[0] (line 7): no [roles.nobody] is defined",
        ]
    );
}

#[test]
fn schedule_defaults_and_a_full_setup() {
    let minimal = load_str(
        &format!("[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n"),
        &no_env(),
    )
    .unwrap();
    let hours = |h: u64| Duration::from_secs(h * 3600);
    assert_eq!(
        minimal.schedule.dispute_before,
        [hours(72), hours(24), hours(4)]
    );
    assert!(minimal.schedule.unpaid_receivers.is_empty());
    assert!(minimal.schedule.escalation.is_none());
    assert!(minimal.schedule.summaries.is_empty());
    let config = load_str(
        &format!(
            r#"[stripe]
webhook_secrets = ["{SECRET}"]
[interactions]
assignees = ["billing-queue"]
[reminders.dispute]
before = ["4h", "72h"]
[reminders.unpaid]
receivers = ["finance"]
after = ["48h", "2h"]
hand_off_to = "billing-queue"
[escalation]
after = "45m"
receiver = "finance"
mention = "<!subteam^S1>"
[[summaries]]
receiver = "finance"
every = "weekly"
day = "friday"
at = "17:30"
timezone = "America/New_York"
[[receivers]]
name = "finance"
console = {{}}
[route]
receiver = "finance"
"#
        ),
        &no_env(),
    )
    .unwrap();
    let schedule = &config.schedule;
    assert_eq!(
        schedule.dispute_before,
        [hours(72), hours(4)],
        "longest first"
    );
    assert_eq!(
        schedule.unpaid_after,
        [hours(2), hours(48)],
        "shortest first"
    );
    assert_eq!(schedule.hand_off_to.as_deref(), Some("billing-queue"));
    let escalation = schedule.escalation.as_ref().unwrap();
    assert_eq!(escalation.after, Duration::from_secs(45 * 60));
    assert_eq!(escalation.mention.as_deref(), Some("<!subteam^S1>"));
    let summary = &schedule.summaries[0];
    assert_eq!(summary.every, schedule::Every::Weekly(chrono::Weekday::Fri));
    assert_eq!(summary.at.to_string(), "17:30:00");
    assert_eq!(summary.timezone, chrono_tz::America::New_York);
    assert!(
        config.keeps_cases(),
        "a summary counts payments by their case"
    );
}

#[test]
fn schedule_mistakes_are_reported_with_their_key() {
    let text = format!(
        r#"[stripe]
webhook_secrets = ["{SECRET}"]
[reminders.dispute]
before = ["30s", "24h", "24h"]
countdown_every = "1m"
[reminders.unpaid]
receivers = ["nobody"]
hand_off_to = "@stranger"
[escalation]
after = "30m"
[[summaries]]
receiver = "console"
every = "hourly"
at = "25:00"
timezone = "Mars/Olympus"
[[summaries]]
receiver = "console"
every = "daily"
day = "monday"
"#
    );
    let errors = errors_of(&text);
    let expected = [
        "reminders.dispute.before[0]",
        "reminders.dispute.before[2]",
        "reminders.dispute.countdown_every",
        "reminders.unpaid.receivers[0]",
        "reminders.unpaid.hand_off_to",
        "escalation",
        "summaries[0].every",
        "summaries[0].at",
        "summaries[0].timezone",
        "summaries[1].day",
    ];
    for key in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("{key} "))),
            "{key} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"Mars/Olympus\" is not an IANA time zone"))
    );
    assert!(errors.iter().any(|e| e.contains("is listed twice")));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"@stranger\" is not one of [interactions] assignees"))
    );
}

#[test]
fn payments_default_to_a_day_in_test_mode_and_mistakes_name_their_key() {
    let text = format!("[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n");
    let config = load_str(&text, &no_env()).unwrap();
    assert_eq!(config.payments.link_ttl, Duration::from_secs(24 * 3600));
    assert!(!config.payments.allow_live);
    assert_eq!(config.payments.receiver, None);
    let policy = config
        .interactions
        .policy(crate::config::ActionKind::RequestPayment);
    assert!(policy.confirm, "a payment request asks first");
    assert_eq!(policy.allowed_roles, ["finance"]);

    let errors = errors_of(&format!(
        r#"[stripe]
webhook_secrets = ["{SECRET}"]
[payments]
link_ttl = "10m"
receiver = "nowhere"
success_url = "ftp://example.com"
"#
    ));
    for key in [
        "payments.link_ttl",
        "payments.receiver",
        "payments.success_url",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("{key} "))),
            "{key} in {errors:#?}"
        );
    }
    assert!(
        errors.iter().any(|e| e.contains("from 30m to 24h")),
        "{errors:#?}"
    );
    let errors = errors_of(&format!(
        "[stripe]\nwebhook_secrets = [\"{SECRET}\"]\n[payments]\nlink_ttl = \"25h\"\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:#?}");
}
