//! Buttons that act: tokens on the cards, clicks checked against roles and
//! approvals, the action run once, the audit log, and the card updated in
//! place with what was done and by whom.
//!
//! Every button of a sent card carries an opaque random token ([`arm`]),
//! never an id or an amount. A click ([`Interact::click`]) is refused with a
//! private notice when the token is unknown, expired or already used, or
//! when the clicker's roles do not allow the action (audited). Otherwise the
//! token is claimed in one conditional UPDATE, so a double click, a
//! platform's retry or a second replica cannot run it again; the action runs
//! with an `Idempotency-Key` derived from the token; the outcome is audited
//! and the card is edited in place.

pub mod actions;
pub mod discord;
pub mod gateway;
pub mod slack;
pub mod socket_mode;
pub mod telegram;

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;

use crate::config::{ActionKind, Clicker, Config};
use crate::deliver::{Chats, MessageRef, Outbound};
use crate::event::EventView;
use crate::render::card::{Action, ButtonStyle, Card, Confirmation, Field};
use crate::render::{Templates, payload};
use crate::routing::Receiver;
use crate::store::{ActionToken, AuditEntry, NewToken, Store, StoreError, now_ms};
use crate::stripe::api::StripeClient;

/// How long a token's fixed part stays in the cache.
const CACHE_TTL: Duration = Duration::from_secs(600);

/// A fresh opaque token: `t` and 32 hex digits (128 random bits), 33 bytes,
/// within Telegram's 64-byte `callback_data` and Discord's 100-character `custom_id`.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("t{}", hex::encode(bytes))
}

/// Gives every known action button of `card` a token (stored) and, where
/// the action asks first, a confirmation naming the amount and the redacted
/// customer.
pub async fn arm(
    config: &Config,
    store: &dyn Store,
    card: &mut Card,
    view: &EventView,
    receiver: &Receiver,
    delivery_id: i64,
    event_seq: i64,
) -> Result<(), StoreError> {
    let now = now_ms();
    let expires = now + config.interactions.token_ttl.as_millis() as i64;
    let mut tokens = Vec::new();
    for action in &mut card.actions {
        let Some(kind) = ActionKind::parse(&action.action) else {
            continue;
        };
        let token = new_token();
        tokens.push(NewToken {
            token: token.clone(),
            action: kind.name().to_owned(),
            label: action.label.clone(),
            delivery_id,
            event_seq,
            receiver: receiver.name.clone(),
            object_id: view.object_id.clone(),
            created_at_ms: now,
            expires_at_ms: expires,
        });
        action.token = Some(token);
        if config.interactions.policy(kind).confirm {
            action.confirm = Some(confirmation(&action.label, view, receiver));
        }
    }
    store.create_tokens(&tokens).await
}

/// "Retry payment?" with the amount, the redacted customer and the object.
fn confirmation(label: &str, view: &EventView, receiver: &Receiver) -> Confirmation {
    let policy = &receiver.redaction;
    let who = view
        .customer
        .name
        .as_deref()
        .and_then(|n| policy.name(n))
        .or_else(|| view.customer.email.as_deref().and_then(|e| policy.email(e)));
    let mut parts = Vec::new();
    if let Some(amount) = &view.amount {
        parts.push(amount.display.clone());
    }
    if let Some(who) = who {
        parts.push(who);
    }
    if let Some(object) = &view.object_id {
        parts.push(object.clone());
    }
    Confirmation {
        title: format!("{label}?"),
        text: format!("{label}: {}. This acts in Stripe.", parts.join(" · ")),
        confirm: label.to_owned(),
        deny: "Cancel".to_owned(),
    }
}

/// Who clicked, as the platform says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// `slack`, `discord` or `telegram`.
    pub platform: &'static str,
    /// The platform's user id.
    pub user_id: String,
    /// How the card names them (`@alice`).
    pub mention: String,
    /// Discord role ids they hold.
    pub discord_roles: Vec<String>,
    /// The token the button carried.
    pub token: String,
    /// For "Assign…": which of `[interactions] assignees` was picked.
    pub pick: Option<usize>,
}

impl Click {
    /// A press of the button carrying `token`, by `user_id` (shown as `@handle`).
    pub fn new(platform: &'static str, user_id: &str, handle: &str, token: &str) -> Self {
        Self {
            platform,
            user_id: user_id.to_owned(),
            mention: format!("@{handle}"),
            discord_roles: Vec::new(),
            token: token.to_owned(),
            pick: None,
        }
    }

    fn clicker(&self) -> Clicker<'_> {
        match self.platform {
            "slack" => Clicker::Slack(&self.user_id),
            "discord" => Clicker::Discord(&self.user_id, &self.discord_roles),
            _ => Clicker::Telegram(self.user_id.parse().unwrap_or_default()),
        }
    }

    fn actor(&self) -> String {
        format!("{}:{}", self.platform, self.user_id)
    }
}

/// A click that passed every check.
struct Checked {
    kind: ActionKind,
    live: ActionToken,
    stored: crate::store::StoredEvent,
    view: EventView,
    event_id: Option<String>,
}

/// What an audit line is about.
struct Subject<'a> {
    action: &'a str,
    token: Option<&'a ActionToken>,
    event_id: Option<&'a str>,
}

/// What the clicker is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickOutcome {
    /// Nothing ran; a private notice says why.
    Refused(String),
    /// Recorded as the first approval; a private notice says so.
    Approved(String),
    /// The action ran; the card was updated with the outcome.
    Done(String),
    /// The card now asks (Confirm / Cancel, or the assignees).
    Asked,
    /// The question was cancelled; the card has its buttons back.
    Cancelled,
}

/// The interaction service of a process.
pub struct Interact {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    chats: Arc<Chats>,
    stripe: StripeClient,
    templates: Templates,
    cache: moka::future::Cache<String, Arc<ActionToken>>,
}

impl Interact {
    /// The service.
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, chats: Arc<Chats>) -> Self {
        Self {
            stripe: StripeClient::new(&config.stripe.api_base_url),
            templates: Templates::new(config.templates_dir.clone()),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            config,
            store,
            chats,
        }
    }

    /// The fixed part of a token (action, delivery, event, object, expiry), cached.
    async fn lookup(&self, token: &str) -> Result<Option<Arc<ActionToken>>, StoreError> {
        if let Some(found) = self.cache.get(token).await {
            return Ok(Some(found));
        }
        let Some(found) = self.store.token(token).await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        self.cache.insert(token.to_owned(), found.clone()).await;
        Ok(Some(found))
    }

    async fn audit(
        &self,
        click: &Click,
        subject: Subject<'_>,
        outcome: &str,
        detail: &str,
        request_id: Option<String>,
    ) {
        let entry = AuditEntry {
            at_ms: now_ms(),
            platform: click.platform.to_owned(),
            user_id: click.user_id.clone(),
            action: subject.action.to_owned(),
            event_id: subject.event_id.map(str::to_owned),
            object_id: subject.token.and_then(|t| t.token.object_id.clone()),
            outcome: outcome.to_owned(),
            detail: Some(detail.to_owned()),
            stripe_request_id: request_id,
        };
        if let Err(error) = self.store.append_audit(&entry).await {
            tracing::error!(error = %crate::telemetry::chain(&error), "cannot append to the audit log");
        }
    }

    /// Handles one click.
    /// Every check a click must pass before it may act: a known, unexpired,
    /// unused token, and a clicker whose roles allow the action (a denial is
    /// audited). `Err` carries the private notice.
    async fn check(&self, click: &Click) -> Result<Result<Checked, String>, StoreError> {
        let now = now_ms();
        // The live row (used, approvals), read once: the cache serves only the
        // fixed part, for the routing of a press (see `press`).
        let Some(live) = self.store.token(&click.token).await? else {
            self.audit(
                click,
                Subject {
                    action: "unknown",
                    token: None,
                    event_id: None,
                },
                "refused",
                "unknown button token",
                None,
            )
            .await;
            return Ok(Err(
                "This button is not one of ours (unknown token); nothing was done.".to_owned(),
            ));
        };
        let token = &live.token;
        let Some(kind) = ActionKind::parse(&token.action) else {
            return Ok(Err("Unknown action; nothing was done.".to_owned()));
        };
        let stored = self.store.event_by_seq(token.event_seq).await?;
        let event_id = stored.as_ref().map(|s| s.event.event_id.clone());
        let subject = || Subject {
            action: kind.name(),
            token: Some(&live),
            event_id: event_id.as_deref(),
        };
        if token.expires_at_ms <= now {
            self.audit(click, subject(), "refused", "expired button", None)
                .await;
            return Ok(Err(
                "This button has expired; nothing was done. Open the event in Stripe instead."
                    .to_owned(),
            ));
        }
        if !self.config.interactions.allows(kind, &click.clicker()) {
            let roles = self.config.interactions.policy(kind).allowed_roles;
            let needs = if roles.is_empty() {
                "any role".to_owned()
            } else {
                roles.join(" or ")
            };
            self.audit(click, subject(), "denied", &format!("not in {needs}"), None)
                .await;
            return Ok(Err(format!(
                "You are not allowed to {} (it needs {needs}); nothing was done.",
                kind.name().replace('_', " ")
            )));
        }
        if let Some(by) = &live.used_by {
            self.audit(click, subject(), "refused", "already used", None)
                .await;
            return Ok(Err(format!(
                "Already done (by {}); nothing was done again.",
                by.split_once(':').map_or(by.as_str(), |(_, user)| user)
            )));
        }
        let Some(stored) = stored else {
            return Ok(Err(
                "The event is no longer stored; nothing was done.".to_owned()
            ));
        };
        let view = match EventView::from_stored(&stored) {
            Ok(view) => view,
            Err(error) => return Ok(Err(format!("{error}; nothing was done."))),
        };
        Ok(Ok(Checked {
            kind,
            live,
            stored,
            view,
            event_id,
        }))
    }

    /// Checks a click without acting: the private notice when it would be refused.
    pub async fn preflight(&self, click: &Click) -> Result<Option<String>, StoreError> {
        Ok(self.check(click).await?.err())
    }

    /// Handles one click.
    pub async fn click(&self, click: &Click) -> Result<ClickOutcome, StoreError> {
        let Checked {
            kind,
            live,
            stored,
            view,
            event_id,
        } = match self.check(click).await? {
            Ok(checked) => checked,
            Err(notice) => return Ok(ClickOutcome::Refused(notice)),
        };
        let subject = || Subject {
            action: kind.name(),
            token: Some(&live),
            event_id: event_id.as_deref(),
        };
        let policy = self.config.interactions.policy(kind);
        if policy.approvals > 1 && self.above_threshold(&view, policy.approval_threshold.as_ref()) {
            match &live.approved_by {
                None => {
                    if self
                        .store
                        .approve_token(&click.token, &click.actor())
                        .await?
                    {
                        self.audit(click, subject(), "approval_pending", "first approval", None)
                            .await;
                        return Ok(ClickOutcome::Approved(
                            "Your approval is recorded. A second authorised person must press the button too.".to_owned(),
                        ));
                    }
                    return Ok(ClickOutcome::Refused(
                        "Someone approved at the same moment; press again to confirm.".to_owned(),
                    ));
                }
                Some(first) if *first == click.actor() => {
                    self.audit(
                        click,
                        subject(),
                        "refused",
                        "second approval by the first approver",
                        None,
                    )
                    .await;
                    return Ok(ClickOutcome::Refused(
                        "You already approved this; a different person must approve it.".to_owned(),
                    ));
                }
                Some(_) => {}
            }
        }
        if !self
            .store
            .claim_token(&click.token, &click.actor(), now_ms())
            .await?
        {
            return Ok(ClickOutcome::Refused(
                "Already done; nothing was done again.".to_owned(),
            ));
        }
        let (outcome, audit_outcome, detail, request_id) =
            self.run(kind, &live, &stored, &view, click).await;
        self.audit(click, subject(), audit_outcome, &detail, request_id)
            .await;
        self.update_card(&live, &view, CardState::Outcome(&outcome))
            .await;
        Ok(ClickOutcome::Done(outcome))
    }

    fn above_threshold(
        &self,
        view: &EventView,
        threshold: Option<&crate::routing::Threshold>,
    ) -> bool {
        let (Some(threshold), Some(amount)) = (threshold, &view.amount) else {
            return threshold.is_none();
        };
        let Some(money) = crate::event::money::Money::new(amount.minor, &amount.currency) else {
            return true;
        };
        if money
            .currency
            .code()
            .eq_ignore_ascii_case(&threshold.currency)
        {
            return money.major().abs() >= threshold.amount;
        }
        // A threshold in another currency asks for the second approval: the safe side.
        true
    }

    /// Runs an action; returns the card's outcome line, the audit outcome, the detail and Stripe's request id.
    async fn run(
        &self,
        kind: ActionKind,
        token: &ActionToken,
        stored: &crate::store::StoredEvent,
        view: &EventView,
        click: &Click,
    ) -> (String, &'static str, String, Option<String>) {
        let context = actions::ActionContext {
            config: &self.config,
            stripe: &self.stripe,
            token,
            stored,
            view,
            click,
            at: chrono::Utc::now().format("%H:%M UTC").to_string(),
        };
        let outcome = actions::action_for(kind).run(&context).await;
        (
            outcome.line,
            outcome.audit,
            outcome.detail,
            outcome.request_id,
        )
    }

    /// Edits the card in place: the outcome first, the buttons already used gone.
    /// Edits the card in place. [`CardState::Outcome`] puts the outcome first
    /// and drops the buttons already used; [`CardState::Confirming`] shows the
    /// confirmation and only Confirm / Cancel (the two-step confirmation of
    /// Discord and Telegram); [`CardState::Open`] restores the buttons.
    async fn update_card(&self, token: &ActionToken, view: &EventView, state: CardState<'_>) {
        let Some(receiver) = self.config.receivers.get(&token.token.receiver) else {
            return;
        };
        let reference = match self.store.delivery_message(token.token.delivery_id).await {
            Ok(Some(text)) => MessageRef::from_json(&text),
            _ => None,
        };
        let (Some(reference), Some(chat)) =
            (reference, self.chats.for_destination(&receiver.destination))
        else {
            return;
        };
        let account = self
            .config
            .endpoint(&view.account)
            .map_or(view.account.as_str(), |e| e.display_name.as_str());
        let Ok(mut card) = crate::render::card_for(
            &self.templates,
            view,
            &receiver.redaction,
            receiver.templates.as_deref(),
            account,
            chrono::Utc::now().timestamp(),
        ) else {
            return;
        };
        let open = self
            .store
            .open_tokens(token.token.delivery_id)
            .await
            .unwrap_or_default();
        card.actions.retain_mut(|action| {
            match open.iter().find(|(name, _)| *name == action.action) {
                Some((_, open_token)) => {
                    action.token = Some(open_token.clone());
                    if let Some(kind) = ActionKind::parse(&action.action)
                        && self.config.interactions.policy(kind).confirm
                    {
                        action.confirm = Some(confirmation(&action.label, view, receiver));
                    }
                    true
                }
                None => false,
            }
        });
        match state {
            CardState::Outcome(outcome) => card.fields.insert(
                0,
                Field {
                    label: "Done".to_owned(),
                    value: outcome.to_owned(),
                },
            ),
            CardState::Confirming => {
                let Some(action) = card
                    .actions
                    .iter()
                    .find(|a| a.token.as_deref() == Some(token.token.token.as_str()))
                    .cloned()
                else {
                    return;
                };
                let question = confirmation(&action.label, view, receiver);
                card.fields.insert(
                    0,
                    Field {
                        label: question.title.clone(),
                        value: question.text.clone(),
                    },
                );
                card.actions = vec![
                    Action {
                        action: action.action.clone(),
                        label: question.confirm,
                        style: ButtonStyle::Danger,
                        token: Some(format!("{CONFIRM_PREFIX}{}", token.token.token)),
                        confirm: None,
                    },
                    Action {
                        action: "cancel".to_owned(),
                        label: question.deny,
                        style: ButtonStyle::Default,
                        token: Some(format!("{CANCEL_PREFIX}{}", token.token.token)),
                        confirm: None,
                    },
                ];
            }
            CardState::Picking => {
                card.fields.insert(
                    0,
                    Field {
                        label: "Assign to".to_owned(),
                        value: "Pick a person or queue.".to_owned(),
                    },
                );
                card.actions = self
                    .config
                    .interactions
                    .assignees
                    .iter()
                    .enumerate()
                    .map(|(index, name)| Action {
                        action: format!("pick_{index}"),
                        label: name.clone(),
                        style: ButtonStyle::Default,
                        token: Some(format!("{PICK_PREFIX}{index}:{}", token.token.token)),
                        confirm: None,
                    })
                    .chain(std::iter::once(Action {
                        action: "cancel".to_owned(),
                        label: "Cancel".to_owned(),
                        style: ButtonStyle::Default,
                        token: Some(format!("{CANCEL_PREFIX}{}", token.token.token)),
                        confirm: None,
                    }))
                    .collect();
            }
            CardState::Open => {}
        }
        let message = Outbound {
            payload: payload(crate::deliver::platform_of(&receiver.destination), &card),
            card: &card,
            idempotency_key: format!("edit-{}", token.token.token),
            reply_to: None,
        };
        if let Err(error) = chat.edit(&reference, &message).await {
            tracing::warn!(receiver = %receiver.name, error = %error, "cannot update the card");
        }
    }

    /// First step of a confirmed action on Discord and Telegram: checks the
    /// click, then edits the card to ask. `Err` carries the private notice.
    pub async fn ask_confirmation(&self, click: &Click) -> Result<Result<(), String>, StoreError> {
        let checked = match self.check(click).await? {
            Ok(checked) => checked,
            Err(notice) => return Ok(Err(notice)),
        };
        self.update_card(&checked.live, &checked.view, CardState::Confirming)
            .await;
        Ok(Ok(()))
    }

    /// First step of "Assign…": checks the click, then edits the card to offer
    /// the assignees. `Err` carries the private notice.
    pub async fn ask_pick(&self, click: &Click) -> Result<Result<(), String>, StoreError> {
        let checked = match self.check(click).await? {
            Ok(checked) => checked,
            Err(notice) => return Ok(Err(notice)),
        };
        self.update_card(&checked.live, &checked.view, CardState::Picking)
            .await;
        Ok(Ok(()))
    }

    /// Whether a token's button is an "Assign…" picker (an `assign` button
    /// whose label ends in `…`, with `[interactions] assignees` configured).
    pub async fn is_picker(&self, token: &str) -> Result<bool, StoreError> {
        if self.config.interactions.assignees.is_empty() {
            return Ok(false);
        }
        Ok(self.lookup(token).await?.is_some_and(|t| {
            t.token.action == ActionKind::Assign.name()
                && (t.token.label.ends_with('…') || t.token.label.ends_with("..."))
        }))
    }

    /// Handles a press on a platform whose buttons ask in two steps (Discord,
    /// Telegram; Slack too for "Assign…", as its confirm dialog cannot pick).
    /// `native_confirm` means the platform already asked (Slack's dialog).
    pub async fn press(
        &self,
        mut click: Click,
        data: &str,
        native_confirm: bool,
    ) -> Result<ClickOutcome, StoreError> {
        match Press::parse(data) {
            Press::Cancel(token) => {
                self.cancel(token).await?;
                Ok(ClickOutcome::Cancelled)
            }
            Press::Pick(index, token) => {
                click.token = token.to_owned();
                click.pick = Some(index);
                self.click(&click).await
            }
            Press::Confirm(token) => {
                click.token = token.to_owned();
                self.click(&click).await
            }
            Press::Button(token) => {
                click.token = token.to_owned();
                let asked = if self.is_picker(token).await? {
                    Some(self.ask_pick(&click).await?)
                } else if !native_confirm && self.needs_confirmation(token).await? {
                    Some(self.ask_confirmation(&click).await?)
                } else {
                    None
                };
                match asked {
                    Some(Ok(())) => Ok(ClickOutcome::Asked),
                    Some(Err(notice)) => Ok(ClickOutcome::Refused(notice)),
                    None => self.click(&click).await,
                }
            }
        }
    }

    /// Cancel of a two-step confirmation: the card gets its buttons back.
    pub async fn cancel(&self, token: &str) -> Result<(), StoreError> {
        let Some(live) = self.store.token(token).await? else {
            return Ok(());
        };
        if let Some(stored) = self.store.event_by_seq(live.token.event_seq).await?
            && let Ok(view) = EventView::from_stored(&stored)
        {
            self.update_card(&live, &view, CardState::Open).await;
        }
        Ok(())
    }

    /// Whether a token's action asks before acting.
    pub async fn needs_confirmation(&self, token: &str) -> Result<bool, StoreError> {
        Ok(self
            .lookup(token)
            .await?
            .and_then(|t| ActionKind::parse(&t.token.action))
            .is_some_and(|kind| self.config.interactions.policy(kind).confirm))
    }
}

/// What the edited card shows.
enum CardState<'a> {
    /// The outcome of an action.
    Outcome(&'a str),
    /// A question: Confirm / Cancel.
    Confirming,
    /// "Assign…": one button per assignee, and Cancel.
    Picking,
    /// The buttons again.
    Open,
}

/// The button payload prefix of a confirming click on Discord and Telegram.
pub const CONFIRM_PREFIX: &str = "c:";
/// The button payload prefix of a cancelling click.
pub const CANCEL_PREFIX: &str = "x:";
/// The button payload prefix of a pick in "Assign…": `p{index}:{token}`.
pub const PICK_PREFIX: &str = "p";

/// What a button's payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Press<'a> {
    /// The button itself.
    Button(&'a str),
    /// Confirm of a two-step confirmation.
    Confirm(&'a str),
    /// Cancel of a confirmation or a picker.
    Cancel(&'a str),
    /// One name of the "Assign…" picker.
    Pick(usize, &'a str),
}

impl<'a> Press<'a> {
    /// Reads a button payload.
    pub fn parse(data: &'a str) -> Self {
        if let Some(token) = data.strip_prefix(CONFIRM_PREFIX) {
            return Self::Confirm(token);
        }
        if let Some(token) = data.strip_prefix(CANCEL_PREFIX) {
            return Self::Cancel(token);
        }
        if let Some((index, token)) = data
            .strip_prefix(PICK_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            && let Ok(index) = index.parse()
        {
            return Self::Pick(index, token);
        }
        Self::Button(data)
    }
}
