//! What a press on a card's button becomes, whatever the platform: one
//! typed [`Click`], what its payload asks for ([`Press`]), what the clicker
//! is told ([`ClickOutcome`]), and the [`ClickHandler`] that acts on it.
//!
//! Each platform's inbound side verifies a request and turns it into a
//! `Click`; the actions service implements `ClickHandler`, and `lib.rs`
//! wires it in, so that no platform code knows the services above it.

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::config::Clicker;
use crate::platform::Platform;
use crate::render::states::{CANCEL_PREFIX, CONFIRM_PREFIX, PICK_PREFIX};

/// Who pressed which button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// Where the press came from.
    pub platform: Platform,
    /// The platform's user id.
    pub user_id: String,
    /// How the card names them (`@alice`).
    pub mention: String,
    /// Platform role ids they hold (Discord roles; empty elsewhere).
    pub platform_roles: Vec<String>,
    /// What the button carried: its token, perhaps behind a confirm,
    /// cancel or pick prefix ([`Press`]); the bare token once parsed.
    pub token: String,
    /// For "Assign…": which of `[interactions] assignees` was picked.
    pub pick: Option<usize>,
}

impl Click {
    /// A press of the button carrying `token`, by `user_id` (shown as `@handle`).
    pub fn new(platform: Platform, user_id: &str, handle: &str, token: &str) -> Self {
        Self {
            platform,
            user_id: user_id.to_owned(),
            mention: format!("@{handle}"),
            platform_roles: Vec::new(),
            token: token.to_owned(),
            pick: None,
        }
    }

    /// The clicker, as roles see them.
    pub fn clicker(&self) -> Clicker<'_> {
        Clicker {
            platform: self.platform,
            user_id: &self.user_id,
            platform_roles: &self.platform_roles,
        }
    }

    /// `slack:U123`: who acted, in the store and the audit log.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.platform, self.user_id)
    }
}

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
    /// "Create link" of a payment request's question: its request id.
    CreateLink(&'a str),
    /// "Cancel" of a payment request's question: its request id.
    CancelRequest(&'a str),
}

/// The payload prefix of a payment request's "Create link" button.
pub const CREATE_LINK_PREFIX: &str = "rq:";
/// The payload prefix of a payment request's "Cancel" button.
pub const CANCEL_REQUEST_PREFIX: &str = "rqx:";

impl<'a> Press<'a> {
    /// Reads a button payload.
    pub fn parse(data: &'a str) -> Self {
        if let Some(request) = data.strip_prefix(CREATE_LINK_PREFIX) {
            return Self::CreateLink(request);
        }
        if let Some(request) = data.strip_prefix(CANCEL_REQUEST_PREFIX) {
            return Self::CancelRequest(request);
        }
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

    /// Whether it answers a payment request's private question (its
    /// answer then takes the question's place).
    pub fn answers_request(&self) -> bool {
        matches!(self, Self::CreateLink(_) | Self::CancelRequest(_))
    }

    /// The token the press is about.
    pub fn token(&self) -> &'a str {
        match self {
            Self::Button(token) | Self::Confirm(token) | Self::Cancel(token) => token,
            Self::Pick(_, token) => token,
            Self::CreateLink(request) | Self::CancelRequest(request) => request,
        }
    }
}

/// What the clicker is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickOutcome {
    /// Nothing ran; a private notice says why.
    Refused(String),
    /// Nothing ran, and the private notice already went out with the early
    /// verdict (see [`ClickHandler::press`]).
    Answered,
    /// Recorded as the first approval; a private notice says so.
    Approved(String),
    /// The action ran; the card was updated with the outcome.
    Done(String),
    /// The action ran, on a card that cannot be edited (a private
    /// look-up's answer): a private notice says how it went.
    Reported(String),
    /// The card now asks (Confirm / Cancel, or the assignees).
    Asked,
    /// The question was cancelled; the card has its buttons back.
    Cancelled,
    /// Something on our side failed (the store); nothing was done. The cause is logged.
    Failed,
}

/// The early verdict of a press: `None` when its checks passed, else the
/// private notice. Sent once, as soon as the checks are done.
pub type Verdict = oneshot::Sender<Option<String>>;

/// A text command typed in a chat (Telegram's `/subscribe TOPIC` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCommand {
    /// The chat it was typed in.
    pub chat_id: i64,
    /// Whether that chat is a private one with the bot.
    pub private: bool,
    /// Who typed it.
    pub user_id: i64,
    /// The text, e.g. `/subscribe disputes`.
    pub text: String,
}

/// A look-up asked from chat: `/stripe invoice in_…` and its kin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// Where it was asked.
    pub platform: Platform,
    /// Who asked (the platform's user id).
    pub user_id: String,
    /// Platform role ids they hold (Discord roles; empty elsewhere).
    pub platform_roles: Vec<String>,
    /// What they asked, without the command: `invoice in_…`, `cus_…`, an e-mail.
    pub text: String,
    /// Whether only the asker sees the answer (Slack and Discord ephemeral
    /// replies, a private Telegram chat); in a group, the answer follows
    /// `[redaction]`, not the asker's own policy.
    pub private: bool,
}

impl LookupQuery {
    /// The asker, as roles see them.
    pub fn asker(&self) -> Clicker<'_> {
        Clicker {
            platform: self.platform,
            user_id: &self.user_id,
            platform_roles: &self.platform_roles,
        }
    }
}

/// The private answer to a look-up.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupAnswer {
    /// The object's card, redacted for the asker, with the buttons they may press.
    Card(Box<crate::render::Card>),
    /// A sentence: usage, not found, not allowed, Stripe unavailable.
    Text(String),
}

/// A payment request asked from chat: `/stripe pay 49.99 EUR "Support
/// deposit" jenny@example.com` (Slack, Discord), `/pay …` (Telegram), or
/// the Slack form's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAsk {
    /// Where it was asked.
    pub platform: Platform,
    /// Who asked (the platform's user id).
    pub user_id: String,
    /// How cards name them, without the `@`.
    pub handle: String,
    /// Platform role ids they hold (Discord roles; empty elsewhere).
    pub platform_roles: Vec<String>,
    /// The channel or chat it was asked in (the form's chosen channel).
    pub channel: Option<String>,
    /// The platform's own id of this command (Slack's `trigger_id` or the
    /// form's view id, Discord's interaction id, Telegram's chat and
    /// message): the same id is the same request.
    pub origin: String,
    /// What was asked.
    pub form: PaymentForm,
    /// Whether the platform's own form was the confirmation (the Slack
    /// form's Submit): no second question is asked.
    pub confirmed: bool,
}

/// What a payment request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentForm {
    /// The command's words after `pay`: `49.99 EUR Support deposit jenny@example.com 2h`.
    Text(String),
    /// A form's fields, each as typed.
    Fields {
        /// `49.99`.
        amount: String,
        /// `EUR`.
        currency: String,
        /// What it is for.
        description: String,
        /// `cus_…` or an e-mail address; may be empty.
        customer: String,
        /// How long the link stays payable (`2h`); empty for `[payments] link_ttl`.
        expires: String,
    },
}

impl PaymentAsk {
    /// The asker, as roles see them.
    pub fn asker(&self) -> Clicker<'_> {
        Clicker {
            platform: self.platform,
            user_id: &self.user_id,
            platform_roles: &self.platform_roles,
        }
    }
}

/// Acts on presses and commands; implemented by the actions service.
#[async_trait]
pub trait ClickHandler: Send + Sync {
    /// Handles one press (its button payload is `click.token`). `native_confirm`
    /// means the platform already asked (Slack's confirm dialog). When
    /// `verdict` is given, the outcome of the checks is sent on it as soon
    /// as they are done (the action runs after), so that a platform with a
    /// short deadline answers a refusal in time, and each click is checked once.
    async fn press(
        &self,
        click: Click,
        native_confirm: bool,
        verdict: Option<Verdict>,
    ) -> ClickOutcome;

    /// The answer to a chat command, or `None` when it is not one of ours.
    async fn command(&self, command: ChatCommand) -> Option<String>;

    /// The private answer to a look-up.
    async fn lookup(&self, query: LookupQuery) -> LookupAnswer;

    /// The private answer to a payment request: a question with "Create
    /// link" / "Cancel" buttons (when `[actions.request_payment]` asks
    /// first), the link made, or why not.
    async fn request_payment(&self, ask: PaymentAsk) -> LookupAnswer;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presses_parse_their_prefixes() {
        assert_eq!(Press::parse("tABC"), Press::Button("tABC"));
        assert_eq!(Press::parse("c:tABC"), Press::Confirm("tABC"));
        assert_eq!(Press::parse("x:tABC"), Press::Cancel("tABC"));
        assert_eq!(Press::parse("p2:tABC"), Press::Pick(2, "tABC"));
        assert_eq!(Press::parse("p2:tABC").token(), "tABC");
        assert_eq!(Press::parse("px:tABC"), Press::Button("px:tABC"));
        assert_eq!(Press::parse("rq:req_1"), Press::CreateLink("req_1"));
        assert_eq!(Press::parse("rqx:req_1"), Press::CancelRequest("req_1"));
    }

    #[test]
    fn a_click_names_its_platform() {
        let click = Click::new(Platform::Telegram, "42", "bob", "tA");
        assert_eq!(click.actor(), "telegram:42");
        assert_eq!(click.mention, "@bob");
    }
}
