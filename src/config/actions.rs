//! `[roles.NAME]`, `[actions.NAME]` and `[interactions]`: who may press
//! which button, whether it asks first, and how long a button stays valid.
//!
//! Safe defaults: the actions that move money or e-mail a customer
//! (`retry_payment`, `send_dunning`, `mark_uncollectible`, `void_invoice`,
//! `request_payment`)
//! are for the `finance` role only and ask for confirmation; the others
//! (`assign`, `acknowledge`, `resolve`) are open to anyone in any role. A
//! user in no role can do nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::{Errors, KeyPath};
use crate::event::Threshold;
use crate::platform::Platform;

/// Every action a button can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionKind {
    /// `POST /v1/invoices/{id}/pay`.
    RetryPayment,
    /// `POST /v1/invoices/{id}/send`.
    SendDunning,
    /// "Take it": the clicker owns the case.
    Assign,
    /// Seen; someone is on it.
    Acknowledge,
    /// Done.
    Resolve,
    /// `POST /v1/invoices/{id}/mark_uncollectible`.
    MarkUncollectible,
    /// `POST /v1/invoices/{id}/void`.
    VoidInvoice,
    /// "Mute similar for 1 h": a silence of this event type on this account
    /// (and customer, where the event has one).
    Mute,
    /// A payment request from chat (`/stripe pay`, `/pay`, the Slack
    /// form), and its "New link" button: `POST /v1/checkout/sessions`.
    RequestPayment,
}

impl ActionKind {
    /// Every action.
    pub const ALL: [ActionKind; 9] = [
        Self::RetryPayment,
        Self::SendDunning,
        Self::Assign,
        Self::Acknowledge,
        Self::Resolve,
        Self::MarkUncollectible,
        Self::VoidInvoice,
        Self::Mute,
        Self::RequestPayment,
    ];

    /// The name used in templates and `bot.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RetryPayment => "retry_payment",
            Self::SendDunning => "send_dunning",
            Self::Assign => "assign",
            Self::Acknowledge => "acknowledge",
            Self::Resolve => "resolve",
            Self::MarkUncollectible => "mark_uncollectible",
            Self::VoidInvoice => "void_invoice",
            Self::Mute => "mute",
            Self::RequestPayment => "request_payment",
        }
    }

    /// The action of a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// True for actions that move money or e-mail a customer.
    pub fn is_sensitive(self) -> bool {
        matches!(
            self,
            Self::RetryPayment
                | Self::SendDunning
                | Self::MarkUncollectible
                | Self::VoidInvoice
                | Self::RequestPayment
        )
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The most names "Assign…" offers (with Cancel, within Discord's 25 buttons).
pub const MAX_ASSIGNEES: usize = 20;

/// `[roles.NAME]`: the people in a role, per platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Role {
    /// Slack user ids (`U0123…`).
    pub slack_users: Vec<String>,
    /// Discord user ids.
    pub discord_users: Vec<String>,
    /// Discord role ids: everyone holding one of them.
    pub discord_roles: Vec<String>,
    /// Telegram user ids.
    pub telegram_users: Vec<i64>,
    /// How look-ups from chat (`/stripe invoice in_…`) show customer data to
    /// members of this role; default `[redaction]`. A member of several
    /// roles gets the policy of the first, by name, that sets one.
    pub redaction: Option<crate::redact::RedactionPolicy>,
}

/// `[actions.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ActionFile {
    /// Roles whose members may press the button. Default: `["finance"]` for
    /// actions that move money or e-mail a customer, every role otherwise.
    pub allowed_roles: Option<Vec<String>>,
    /// Ask before acting. Default: true for actions that move money or e-mail a customer.
    pub confirm: Option<bool>,
    /// How many different people must press it when the amount is at least
    /// `approval_threshold`. Default 1.
    pub approvals: Option<u32>,
    /// The amount from which `approvals` applies, e.g. `{ amount = 10000, currency = "usd" }`.
    pub approval_threshold: Option<Threshold>,
}

/// `[interactions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct InteractionsFile {
    /// How long a card's buttons stay valid after it was sent.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// A helpdesk URL: `assign` (Take it, Create ticket) also POSTs the case
    /// there as JSON (event, object, Dashboard link, assignee).
    pub ticket_webhook: Option<String>,
    /// The people and queues an "Assign…" button offers, e.g. `["@alice", "billing-queue"]`.
    pub assignees: Vec<String>,
    /// Roles whose members may look objects up from chat (`/stripe …`,
    /// Telegram `/invoice`). Default: anyone in any role.
    pub lookup_roles: Vec<String>,
}

impl Default for InteractionsFile {
    fn default() -> Self {
        Self {
            token_ttl: Duration::from_secs(14 * 24 * 3600),
            ticket_webhook: None,
            assignees: Vec::new(),
            lookup_roles: Vec::new(),
        }
    }
}

/// The validated policy of one action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPolicy {
    /// Roles allowed; empty means anyone in any role.
    pub allowed_roles: Vec<String>,
    /// Ask before acting.
    pub confirm: bool,
    /// People needed at or above the threshold.
    pub approvals: u32,
    /// Where `approvals` starts.
    pub approval_threshold: Option<Threshold>,
}

/// Roles, action policies and token lifetime.
#[derive(Debug, Clone, Default)]
pub struct InteractionsConfig {
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Policies by action.
    pub actions: BTreeMap<ActionKind, ActionPolicy>,
    /// Button lifetime.
    pub token_ttl: Duration,
    /// Where `assign` posts the case, if anywhere.
    pub ticket_webhook: Option<String>,
    /// What "Assign…" offers.
    pub assignees: Vec<String>,
    /// Who may look objects up from chat; empty means anyone in any role.
    pub lookup_roles: Vec<String>,
}

/// Who pressed a button, as the platform says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clicker<'a> {
    /// The platform the press came from.
    pub platform: Platform,
    /// The platform's user id.
    pub user_id: &'a str,
    /// Discord role ids they hold (empty elsewhere).
    pub platform_roles: &'a [String],
}

impl Role {
    /// Whether a clicker is in this role.
    pub fn holds(&self, clicker: &Clicker<'_>) -> bool {
        let user = clicker.user_id;
        match clicker.platform {
            Platform::Slack => self.slack_users.iter().any(|u| u == user),
            Platform::Discord => {
                self.discord_users.iter().any(|u| u == user)
                    || self
                        .discord_roles
                        .iter()
                        .any(|r| clicker.platform_roles.contains(r))
            }
            Platform::Telegram => user
                .parse::<i64>()
                .is_ok_and(|id| self.telegram_users.contains(&id)),
            // Nobody clicks on standard output or a generic webhook.
            Platform::Console | Platform::Webhook => false,
        }
    }
}

impl InteractionsConfig {
    /// The policy of an action (every action has one).
    pub fn policy(&self, action: ActionKind) -> ActionPolicy {
        self.actions
            .get(&action)
            .cloned()
            .unwrap_or_else(|| default_policy(action))
    }

    /// The roles a clicker holds.
    pub fn roles_of(&self, clicker: &Clicker<'_>) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|(_, role)| role.holds(clicker))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether someone may look objects up from chat.
    pub fn may_look_up(&self, asker: &Clicker<'_>) -> bool {
        let held = self.roles_of(asker);
        if self.lookup_roles.is_empty() {
            !held.is_empty()
        } else {
            self.lookup_roles.iter().any(|r| held.contains(&r.as_str()))
        }
    }

    /// The redaction of look-ups for someone: the first of their roles, by
    /// name, that sets one.
    pub fn lookup_redaction(&self, asker: &Clicker<'_>) -> Option<&crate::redact::RedactionPolicy> {
        self.roles
            .values()
            .filter(|role| role.holds(asker))
            .find_map(|role| role.redaction.as_ref())
    }

    /// Whether a clicker may press an action's button.
    pub fn allows(&self, action: ActionKind, clicker: &Clicker<'_>) -> bool {
        let held = self.roles_of(clicker);
        let policy = self.policy(action);
        if policy.allowed_roles.is_empty() {
            !held.is_empty()
        } else {
            policy
                .allowed_roles
                .iter()
                .any(|r| held.contains(&r.as_str()))
        }
    }
}

fn default_policy(action: ActionKind) -> ActionPolicy {
    ActionPolicy {
        allowed_roles: if action.is_sensitive() {
            vec!["finance".to_owned()]
        } else if action == ActionKind::Mute {
            // Silencing hides events from everyone: an admin's call.
            vec!["admin".to_owned()]
        } else {
            Vec::new()
        },
        confirm: action.is_sensitive(),
        approvals: 1,
        approval_threshold: None,
    }
}

/// Validates `[roles]`, `[actions]` and `[interactions]`.
pub(super) fn validate(
    roles: &BTreeMap<String, Role>,
    actions: &BTreeMap<String, ActionFile>,
    interactions: &InteractionsFile,
    errors: &mut Errors<'_>,
) -> InteractionsConfig {
    let root = KeyPath::root();
    let mut policies = BTreeMap::new();
    for (name, file) in actions {
        let path = root.key("actions").key(name.clone());
        let Some(action) = ActionKind::parse(name) else {
            let known: Vec<&str> = ActionKind::ALL.iter().map(|a| a.name()).collect();
            errors.push(
                path,
                format!("unknown action; known actions: {}", known.join(", ")),
            );
            continue;
        };
        let defaults = default_policy(action);
        let allowed_roles = file.allowed_roles.clone().unwrap_or(defaults.allowed_roles);
        for (index, role) in allowed_roles.iter().enumerate() {
            if file.allowed_roles.is_some() && !roles.contains_key(role) {
                errors.push(
                    path.key("allowed_roles").index(index),
                    format!("no [roles.{role}] is defined"),
                );
            }
        }
        let approvals = file.approvals.unwrap_or(1);
        if approvals == 0 {
            errors.push(path.key("approvals"), "must be at least 1");
        }
        if approvals > 1 && file.approval_threshold.is_none() {
            errors.push(
                path.key("approval_threshold"),
                "approvals above 1 need an approval_threshold, e.g. { amount = 10000, currency = \"usd\" }",
            );
        }
        policies.insert(
            action,
            ActionPolicy {
                allowed_roles,
                confirm: file.confirm.unwrap_or(defaults.confirm),
                approvals: approvals.max(1),
                approval_threshold: file.approval_threshold.clone(),
            },
        );
    }
    if interactions.token_ttl < Duration::from_secs(60) {
        errors.push(
            root.key("interactions").key("token_ttl"),
            "must be at least 1m, or the buttons expire before anyone can press them",
        );
    }
    if interactions.assignees.len() > MAX_ASSIGNEES {
        errors.push(
            root.key("interactions").key("assignees"),
            format!(
                "at most {MAX_ASSIGNEES}: they become buttons, and Discord allows 25 per message"
            ),
        );
    }
    if let Some(index) = interactions
        .assignees
        .iter()
        .position(|a| a.trim().is_empty())
    {
        errors.push(
            root.key("interactions").key("assignees").index(index),
            "must not be empty",
        );
    }
    if let Some(url) = &interactions.ticket_webhook
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        errors.push(
            root.key("interactions").key("ticket_webhook"),
            "must be an http:// or https:// URL",
        );
    }
    for (index, role) in interactions.lookup_roles.iter().enumerate() {
        if !roles.contains_key(role) {
            errors.push(
                root.key("interactions").key("lookup_roles").index(index),
                format!("no [roles.{role}] is defined"),
            );
        }
    }
    InteractionsConfig {
        lookup_roles: interactions.lookup_roles.clone(),
        roles: roles.clone(),
        actions: policies,
        token_ttl: interactions.token_ttl,
        ticket_webhook: interactions.ticket_webhook.clone(),
        assignees: interactions.assignees.clone(),
    }
}
