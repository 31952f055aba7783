//! Payment requests from chat: `/stripe pay 49.99 EUR "Support deposit"
//! jenny@example.com` (Slack, Discord), `/pay …` (Telegram), the Slack
//! form, and a card's "New link".
//!
//! The asker's roles are checked first (`[actions.request_payment]`,
//! default `finance`), then the words: the amount in the currency's real
//! minor units, the description, the customer, the link's lifetime. A
//! refusal is a private sentence and nothing reaches Stripe. With a live
//! key, requests are refused unless `[payments] allow_live`.
//!
//! When the action asks first (the default), the asker gets a private
//! question with "Create link" and "Cancel"; the Slack form's Submit is its
//! own confirmation. The link is a Checkout Session (`mode=payment`,
//! `price_data`, the customer, `expires_at`, the request in its metadata),
//! made once per request and link number: the store's claim and an
//! `Idempotency-Key` of the request and link. The bot then stores the
//! session as a [`PAYMENT_REQUESTED`] event, which the pipeline delivers to
//! the request's receiver as the first card of the request's case; Stripe's
//! `checkout.session.*` events edit that card. Every request, link and
//! outcome is an audit row with the asker, the amount and the session id.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::chat::{Click, LookupAnswer, PaymentAsk, PaymentForm};
use crate::config::{ActionKind, Config, Destination};
use crate::event::facts::request_keys;
use crate::event::money::Money;
use crate::event::request::{MAX_LINK_TTL, MIN_LINK_TTL, Payer, parse_fields, parse_text};
use crate::event::{DEFAULT_ACCOUNT, PAYMENT_REQUESTED};
use crate::platform::Platform;
use crate::render::Card;
use crate::render::card::{Action as CardAction, ButtonStyle, Field, Severity};
use crate::secret::Secret;
use crate::store::{AuditEntry, NewEvent, PaymentRequest, Store, StoreError, now_ms};
use crate::stripe::api::{StripeClient, is_live_key};

use super::Actions;

/// The request id of a command: `req_` and 24 hex digits of a hash of the
/// platform and its own id of the command.
pub fn request_id(platform: Platform, origin: &str) -> String {
    let digest = Sha256::digest(format!("{}:{origin}", platform.name()).as_bytes());
    format!("req_{}", &hex::encode(digest)[..24])
}

/// The receiver whose channel gets a request's card: the one that posts in
/// the channel it was asked in, else `[payments] receiver`.
pub fn receiver_for<'a>(
    config: &'a Config,
    platform: Platform,
    channel: Option<&str>,
) -> Option<&'a str> {
    let here = channel.and_then(|channel| {
        config
            .receivers
            .values()
            .find(|receiver| match &receiver.destination {
                Destination::Slack(target) => {
                    platform == Platform::Slack && target.channel == channel
                }
                Destination::Discord(target) => {
                    platform == Platform::Discord && target.channel_id == channel
                }
                Destination::Telegram(target) => {
                    platform == Platform::Telegram
                        && target
                            .chat_id
                            .is_some_and(|chat| chat.to_string() == channel)
                }
                Destination::Console | Destination::Webhook(_) => false,
            })
    });
    here.map(|r| r.name.as_str())
        .or(config.payments.receiver.as_deref())
}

/// The Checkout Session's form fields for link `link` of `request`,
/// expiring `expires_at` (Unix seconds).
pub fn session_params(
    config: &Config,
    request: &PaymentRequest,
    link: i64,
    expires_at: i64,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("line_items[0][quantity]".into(), "1".into()),
        (
            "line_items[0][price_data][currency]".into(),
            request.currency.clone(),
        ),
        (
            "line_items[0][price_data][unit_amount]".into(),
            request.amount_minor.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]".into(),
            request.description.clone(),
        ),
        ("expires_at".into(), expires_at.to_string()),
        // On expiry Stripe makes a recovery URL for the same cart.
        ("after_expiration[recovery][enabled]".into(), "true".into()),
        (
            "payment_intent_data[description]".into(),
            request.description.clone(),
        ),
        (
            format!("payment_intent_data[metadata][{}]", request_keys::ID),
            request.request_id.clone(),
        ),
        (
            format!("metadata[{}]", request_keys::ID),
            request.request_id.clone(),
        ),
        (
            format!("metadata[{}]", request_keys::LINK),
            link.to_string(),
        ),
        (
            format!("metadata[{}]", request_keys::RECEIVER),
            request.receiver.clone(),
        ),
        (
            format!("metadata[{}]", request_keys::ASKED_BY),
            request.asker_name.clone(),
        ),
        (
            format!("metadata[{}]", request_keys::DESCRIPTION),
            request.description.clone(),
        ),
    ];
    match request.customer.as_deref().and_then(Payer::parse) {
        Some(Payer::Customer(id)) => params.push(("customer".into(), id)),
        Some(Payer::Email(email)) => params.push(("customer_email".into(), email)),
        None => {}
    }
    if let Some(url) = &config.payments.success_url {
        params.push(("success_url".into(), url.clone()));
    }
    params
}

/// The `Idempotency-Key` of link `link` of a request.
pub fn idempotency_key(request_id: &str, link: i64) -> String {
    format!("stripe-chatops-{request_id}-link-{link}")
}

/// What making a link needs besides the request.
pub struct LinkMaker<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The store.
    pub store: &'a dyn Store,
    /// The Stripe client.
    pub stripe: &'a StripeClient,
    /// Wakes the pipeline once the link's event is stored.
    pub wake: &'a Notify,
}

/// A link made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The Checkout Session.
    pub session_id: String,
    /// The customer's payment page.
    pub url: String,
    /// Stripe's `Request-Id`.
    pub request_id: Option<String>,
}

/// Why no link was made: the sentence for the asker, and the audit's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMade {
    /// The private answer.
    pub sentence: String,
    /// `refused` (nothing asked of Stripe) or `failed` (Stripe said no).
    pub audit: &'static str,
    /// Stripe's `Request-Id`, when Stripe was asked.
    pub request_id: Option<String>,
}

impl NotMade {
    fn refused(sentence: impl Into<String>) -> Self {
        Self {
            sentence: sentence.into(),
            audit: "refused",
            request_id: None,
        }
    }
}

impl LinkMaker<'_> {
    /// Makes link `link` of `request` (1 for the first), once: the store's
    /// claim, then Stripe with the link's `Idempotency-Key`, then the
    /// link's event for the request's card.
    pub async fn make(&self, request: &PaymentRequest, link: i64) -> Result<Made, NotMade> {
        let store_failed = |error: StoreError| {
            tracing::error!(error = %crate::telemetry::chain(&error), "payment request: store error");
            NotMade::refused(
                "Something went wrong on our side; nothing was asked of Stripe. Try again.",
            )
        };
        let key = link_key(self.config, &request.account).map_err(NotMade::refused)?;
        let now = now_ms();
        if !self
            .store
            .claim_link(&request.request_id, link, now)
            .await
            .map_err(store_failed)?
        {
            let current = self
                .store
                .payment_request(&request.request_id)
                .await
                .map_err(store_failed)?;
            return Err(NotMade::refused(already(current.as_ref(), link)));
        }
        // A few seconds of slack either way: Stripe counts from its own clock.
        let ttl = Duration::from_secs(request.ttl_secs.max(0) as u64).clamp(
            MIN_LINK_TTL + Duration::from_secs(60),
            MAX_LINK_TTL - Duration::from_secs(60),
        );
        let expires_at = now / 1000 + ttl.as_secs() as i64;
        let params = session_params(self.config, request, link, expires_at);
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = self
            .stripe
            .post(
                key,
                "/v1/checkout/sessions",
                &params,
                &idempotency_key(&request.request_id, link),
                None,
            )
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                let why = error.message.clone();
                self.store
                    .link_failed(&request.request_id, &why, now_ms())
                    .await
                    .map_err(store_failed)?;
                return Err(NotMade {
                    sentence: format!("Stripe did not make the link: {why}"),
                    audit: "failed",
                    request_id: error.request_id,
                });
            }
        };
        let session = response.object;
        let (Some(session_id), Some(url)) = (session["id"].as_str(), session["url"].as_str())
        else {
            self.store
                .link_failed(
                    &request.request_id,
                    "Stripe's answer had no session id or URL",
                    now_ms(),
                )
                .await
                .map_err(store_failed)?;
            return Err(NotMade {
                sentence: "Stripe answered without a link; nothing was posted.".to_owned(),
                audit: "failed",
                request_id: response.request_id,
            });
        };
        self.store
            .link_created(&request.request_id, link, session_id, url, now_ms())
            .await
            .map_err(store_failed)?;
        let event = link_event(request, link, &session);
        self.store.insert_event(event).await.map_err(store_failed)?;
        self.wake.notify_one();
        Ok(Made {
            session_id: session_id.to_owned(),
            url: url.to_owned(),
            request_id: response.request_id,
        })
    }
}

/// The key links of `account` are made with: its API key, unless it is a
/// live key and `[payments] allow_live` is off. The error is the sentence.
fn link_key<'a>(config: &'a Config, account: &str) -> Result<&'a Secret, &'static str> {
    let key = config
        .endpoint(account)
        .and_then(|e| e.api_key.as_ref())
        .ok_or("Payment requests need a Stripe API key: set [stripe] api_key.")?;
    if is_live_key(key.expose()) && !config.payments.allow_live {
        return Err(
            "The bot's Stripe key is a live key, and payment requests are for test mode until an admin sets [payments] allow_live = true.",
        );
    }
    Ok(key)
}

/// What a claim that failed means to the asker.
fn already(current: Option<&PaymentRequest>, link: i64) -> String {
    match current {
        None => "There is no such payment request.".to_owned(),
        Some(request) => match request.status.as_str() {
            "cancelled" => "This request was cancelled; nothing was made.".to_owned(),
            "creating" => "The link is being made right now.".to_owned(),
            "paid" => "This request is paid already; no new link was made.".to_owned(),
            "failed" => format!(
                "Stripe did not make the link earlier ({}); press Create link to try again.",
                request.outcome.as_deref().unwrap_or("no reason given")
            ),
            "expired" | "payment_failed" if request.links >= link => format!(
                "Link {} ended unpaid ({}); use New link on its card.",
                request.links,
                request.status.replace('_', " ")
            ),
            _ if request.links >= link => format!(
                "Already done: link {} is {}.",
                request.links,
                request.url.as_deref().unwrap_or("made")
            ),
            status => format!("This request is {status}; no link was made."),
        },
    }
}

/// The event the bot stores for a link it made: Stripe sends none when a
/// session is created, and the request's card starts from it.
pub fn link_event(request: &PaymentRequest, link: i64, session: &Value) -> NewEvent {
    let now = now_ms();
    let event_id = format!("evt_{}_link_{link}", request.request_id);
    let livemode = session["livemode"].as_bool().unwrap_or(false);
    let payload = json!({
        "id": event_id,
        "object": "event",
        "type": PAYMENT_REQUESTED,
        "created": now / 1000,
        "livemode": livemode,
        "data": { "object": session },
    });
    NewEvent {
        account: request.account.clone(),
        event_id,
        event_type: PAYMENT_REQUESTED.to_owned(),
        livemode,
        connect_account: None,
        api_version: None,
        created: now / 1000,
        received_at_ms: now,
        payload: payload.to_string(),
    }
}

/// The amount of a request in words: `€49.99 EUR`.
pub fn amount_of(request: &PaymentRequest) -> String {
    Money::new(request.amount_minor, &request.currency)
        .map(|m| m.to_string())
        .unwrap_or_else(|| format!("{} {}", request.amount_minor, request.currency))
}

/// The audit's words about a request: amount, what for, link, session.
fn audit_detail(request: &PaymentRequest, link: i64, session: Option<&str>, more: &str) -> String {
    let mut detail = format!(
        "{} · {:?} · link {link}",
        amount_of(request),
        request.description
    );
    if let Some(session) = session {
        detail.push_str(&format!(" · {session}"));
    }
    if !more.is_empty() {
        detail.push_str(&format!(" · {more}"));
    }
    detail
}

/// Appends one audit row about a request (a failure to do so is logged).
pub async fn audit_request(
    store: &dyn Store,
    request: &PaymentRequest,
    who: (&str, &str),
    outcome: &str,
    detail: String,
    session: Option<&str>,
    stripe_request_id: Option<String>,
) {
    let object = session.unwrap_or(&request.request_id);
    append_audit(store, who, outcome, detail, Some(object), stripe_request_id).await;
}

/// Appends one `request_payment` audit row (a failure to do so is logged).
async fn append_audit(
    store: &dyn Store,
    (platform, user_id): (&str, &str),
    outcome: &str,
    detail: String,
    object_id: Option<&str>,
    stripe_request_id: Option<String>,
) {
    let entry = AuditEntry {
        at_ms: now_ms(),
        platform: platform.to_owned(),
        user_id: user_id.to_owned(),
        action: ActionKind::RequestPayment.name().to_owned(),
        event_id: None,
        object_id: object_id.map(str::to_owned),
        outcome: outcome.to_owned(),
        detail: Some(detail),
        stripe_request_id,
    };
    if let Err(error) = store.append_audit(&entry).await {
        tracing::error!(error = %crate::telemetry::chain(&error), "cannot append to the audit log");
    }
}

impl Actions {
    /// Answers a payment request: roles, words, key and receiver first;
    /// then the question, or the link.
    pub(super) async fn answer_payment(&self, ask: PaymentAsk) -> LookupAnswer {
        let snapshot = self.live.snapshot();
        let config = &snapshot.config;
        let platform = ask.platform.name();
        if !config
            .interactions
            .allows(ActionKind::RequestPayment, &ask.asker())
        {
            self.metrics.payment_request(platform, "refused");
            self.audit_ask(&ask, "refused", "not in a role allowed to request payments")
                .await;
            return LookupAnswer::Text(
                "You are not allowed to request payments; ask your admin for a role in [actions.request_payment].".to_owned(),
            );
        }
        let draft = match &ask.form {
            PaymentForm::Text(text) => parse_text(text),
            PaymentForm::Fields {
                amount,
                currency,
                description,
                customer,
                expires,
            } => parse_fields(amount, currency, description, customer, expires)
                .map_err(|(_, why)| why),
        };
        let draft = match draft {
            Ok(draft) => draft,
            Err(sentence) => return LookupAnswer::Text(sentence),
        };
        let account = DEFAULT_ACCOUNT;
        let key = match link_key(config, account) {
            Ok(key) => key,
            Err(why) => {
                self.audit_ask(&ask, "refused", why).await;
                return LookupAnswer::Text(why.to_owned());
            }
        };
        let Some(receiver) = receiver_for(config, ask.platform, ask.channel.as_deref()) else {
            let names: Vec<String> = config
                .receivers
                .values()
                .filter(|r| r.destination.platform() == ask.platform)
                .map(|r| r.destination.describe())
                .collect();
            return LookupAnswer::Text(format!(
                "No receiver posts in this channel, so the request's card would have nowhere to go. Ask where one does ({}), or ask your admin to set [payments] receiver.",
                if names.is_empty() {
                    "none on this platform".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        };
        let ttl = draft.ttl.unwrap_or(config.payments.link_ttl);
        // Without the platform's id of the command, every ask is its own request.
        let origin = if ask.origin.is_empty() {
            super::tokens::new_token()
        } else {
            ask.origin.clone()
        };
        let now = now_ms();
        let request = PaymentRequest {
            request_id: request_id(ask.platform, &origin),
            platform: platform.to_owned(),
            asker: format!("{platform}:{}", ask.user_id),
            asker_name: format!("@{}", ask.handle),
            receiver: receiver.to_owned(),
            account: account.to_owned(),
            amount_minor: draft.money.minor,
            currency: draft.money.currency.code().to_ascii_lowercase(),
            description: draft.description.clone(),
            customer: draft.payer.as_ref().map(|p| p.as_str().to_owned()),
            ttl_secs: ttl.as_secs() as i64,
            status: "pending".to_owned(),
            links: 0,
            session_id: None,
            url: None,
            outcome: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        let (request, new) = match self.store.open_request(&request).await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "payment request: store error");
                return LookupAnswer::Text(
                    "Something went wrong on our side; nothing was asked of Stripe. Try again."
                        .to_owned(),
                );
            }
        };
        if !new && request.status != "pending" {
            // The same command twice (a double submit, a platform's retry).
            return LookupAnswer::Text(already(Some(&request), 1));
        }
        let confirm = config
            .interactions
            .policy(ActionKind::RequestPayment)
            .confirm;
        if confirm && !ask.confirmed {
            if new {
                self.metrics.payment_request(platform, "asked");
                audit_request(
                    self.store.as_ref(),
                    &request,
                    (platform, &ask.user_id),
                    "asked",
                    audit_detail(&request, 1, None, "waiting for the asker's confirmation"),
                    None,
                    None,
                )
                .await;
            }
            return LookupAnswer::Card(Box::new(question(config, &request, key.expose())));
        }
        let said = self
            .create_first_link(config, &request, (platform, &ask.user_id))
            .await;
        LookupAnswer::Text(said.unwrap_or_else(|why| why))
    }

    /// Makes a request's first link and says how it went (`Err`: no link).
    async fn create_first_link(
        &self,
        config: &Config,
        request: &PaymentRequest,
        who: (&str, &str),
    ) -> Result<String, String> {
        let maker = LinkMaker {
            config,
            store: self.store.as_ref(),
            stripe: &self.stripe,
            wake: &self.pipeline_wake,
        };
        match maker.make(request, 1).await {
            Ok(made) => {
                audit_request(
                    self.store.as_ref(),
                    request,
                    who,
                    "done",
                    audit_detail(request, 1, Some(&made.session_id), "link created"),
                    Some(&made.session_id),
                    made.request_id.clone(),
                )
                .await;
                self.metrics.payment_request(who.0, "created");
                Ok(format!(
                    "Payment link created for {} ({}); its card is posted to {}. Link: {}",
                    amount_of(request),
                    request.description,
                    request.receiver,
                    made.url
                ))
            }
            Err(not) => {
                self.metrics.payment_request(who.0, not.audit);
                audit_request(
                    self.store.as_ref(),
                    request,
                    who,
                    not.audit,
                    audit_detail(request, 1, None, &not.sentence),
                    None,
                    not.request_id.clone(),
                )
                .await;
                Err(not.sentence)
            }
        }
    }

    /// "Create link" or "Cancel" of a request's question, pressed by `actor`.
    pub(super) async fn press_request(
        &self,
        click: &Click,
        request_id: &str,
        create: bool,
    ) -> Result<String, String> {
        let (platform, user_id) = (click.platform, click.user_id.as_str());
        let snapshot = self.live.snapshot();
        let config = &snapshot.config;
        let actor = format!("{}:{user_id}", platform.name());
        let request = match self.store.payment_request(request_id).await {
            Ok(Some(request)) => request,
            Ok(None) => return Err("There is no such payment request.".to_owned()),
            Err(error) => {
                tracing::error!(error = %crate::telemetry::chain(&error), "payment request: store error");
                return Err(
                    "Something went wrong on our side; nothing was done. Try again.".to_owned(),
                );
            }
        };
        if request.asker != actor {
            return Err("Only the person who asked can confirm or cancel this request.".to_owned());
        }
        if !create {
            return match self
                .store
                .cancel_request(request_id, &actor, now_ms())
                .await
            {
                Ok(true) => {
                    audit_request(
                        self.store.as_ref(),
                        &request,
                        (platform.name(), user_id),
                        "cancelled",
                        audit_detail(&request, 1, None, "cancelled by the asker"),
                        None,
                        None,
                    )
                    .await;
                    Ok("Cancelled; no link was made.".to_owned())
                }
                Ok(false) => Err(already(Some(&request), 1)),
                Err(_) => {
                    Err("Something went wrong on our side; nothing was done. Try again.".to_owned())
                }
            };
        }
        // The roles again: they may have changed since the question.
        if !config
            .interactions
            .allows(ActionKind::RequestPayment, &click.clicker())
        {
            return Err("You are no longer allowed to request payments.".to_owned());
        }
        self.create_first_link(config, &request, (platform.name(), user_id))
            .await
    }

    /// An audit row of a refused ask (no request recorded).
    async fn audit_ask(&self, ask: &PaymentAsk, outcome: &str, detail: &str) {
        let who = (ask.platform.name(), ask.user_id.as_str());
        append_audit(
            self.store.as_ref(),
            who,
            outcome,
            detail.to_owned(),
            None,
            None,
        )
        .await;
    }
}

/// The private question of a request: what will be asked of Stripe, with
/// "Create link" and "Cancel".
pub fn question(config: &Config, request: &PaymentRequest, key: &str) -> Card {
    let amount = amount_of(request);
    let ttl = humantime::format_duration(Duration::from_secs(request.ttl_secs.max(0) as u64));
    let receiver = config.receivers.get(&request.receiver).map_or_else(
        || request.receiver.clone(),
        |r| format!("{} ({})", r.name, r.destination.describe()),
    );
    let mut fields = vec![
        Field {
            label: "Amount".into(),
            value: amount.clone(),
        },
        Field {
            label: "For".into(),
            value: request.description.clone(),
        },
    ];
    if let Some(customer) = &request.customer {
        fields.push(Field {
            label: "Customer".into(),
            value: customer.clone(),
        });
    }
    fields.push(Field {
        label: "Link payable for".into(),
        value: ttl.to_string(),
    });
    fields.push(Field {
        label: "Card posted to".into(),
        value: receiver,
    });
    Card {
        title: format!("💳 Request {amount}?"),
        severity: Severity::Info,
        summary: Some(format!(
            "Create a Stripe Checkout link for {amount} ({})? Only you see this.",
            request.description
        )),
        badges: if is_live_key(key) {
            Vec::new()
        } else {
            vec!["TEST MODE".to_owned()]
        },
        fields,
        links: Vec::new(),
        actions: vec![
            CardAction {
                action: "create_link".into(),
                label: "Create link".into(),
                style: ButtonStyle::Primary,
                token: Some(format!(
                    "{}{}",
                    crate::chat::click::CREATE_LINK_PREFIX,
                    request.request_id
                )),
                confirm: None,
            },
            CardAction {
                action: "cancel_request".into(),
                label: "Cancel".into(),
                style: ButtonStyle::Default,
                token: Some(format!(
                    "{}{}",
                    crate::chat::click::CANCEL_REQUEST_PREFIX,
                    request.request_id
                )),
                confirm: None,
            },
        ],
        footer: format!("Payment request {}", request.request_id),
    }
}

/// "New link" on a request's card: link `n + 1` of the request, for the
/// same amount, description and customer.
pub struct NewLink;

#[async_trait::async_trait]
impl super::kinds::Action for NewLink {
    async fn run(&self, ctx: &super::kinds::ActionContext<'_>) -> super::kinds::ActionOutcome {
        let (who, at) = (&ctx.click.mention, &ctx.at);
        let outcome = |line: String, audit: &'static str, detail: String, request_id| {
            super::kinds::ActionOutcome {
                line,
                audit,
                detail,
                request_id,
            }
        };
        let Some(request_id) = ctx.view.payment_request().map(|r| r.id.clone()) else {
            return outcome(
                format!("New link by {who} failed: this card is not about a payment request"),
                "failed",
                "no payment request".to_owned(),
                None,
            );
        };
        let request = match ctx.store.payment_request(&request_id).await {
            Ok(Some(request)) => request,
            Ok(None) => {
                return outcome(
                    format!(
                        "New link by {who} failed: the bot has no record of request {request_id}"
                    ),
                    "failed",
                    "unknown payment request".to_owned(),
                    None,
                );
            }
            Err(error) => {
                return outcome(
                    format!("New link by {who} failed: the store did not answer"),
                    "failed",
                    crate::telemetry::chain(&error),
                    None,
                );
            }
        };
        let link = request.links + 1;
        let maker = LinkMaker {
            config: ctx.config,
            store: ctx.store,
            stripe: ctx.stripe,
            wake: ctx.wake,
        };
        match maker.make(&request, link).await {
            Ok(made) => outcome(
                format!("New link {link} by {who} at {at}: {}", made.url),
                "done",
                audit_detail(&request, link, Some(&made.session_id), "new link"),
                made.request_id,
            ),
            Err(not) => outcome(
                format!("New link by {who} at {at} — not made: {}", not.sentence),
                if not.audit == "refused" {
                    "failed"
                } else {
                    not.audit
                },
                audit_detail(&request, link, None, &not.sentence),
                not.request_id,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_one_request_however_often_it_arrives() {
        assert_eq!(
            request_id(Platform::Slack, "T1"),
            request_id(Platform::Slack, "T1")
        );
        assert_ne!(
            request_id(Platform::Slack, "T1"),
            request_id(Platform::Discord, "T1")
        );
        assert_eq!(request_id(Platform::Slack, "T1").len(), 28);
    }
}
