//! `[payments]`: payment requests from chat (`/stripe pay`, the Slack
//! shortcut's form, Discord's `/stripe pay`, Telegram's `/pay`), which create
//! Stripe Checkout Sessions.
//!
//! Who may ask is `[actions.request_payment]` (default: the `finance` role,
//! with a confirmation step). Requests are for test mode until an admin
//! says otherwise: with a live key they are refused unless `allow_live`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::receivers::Receiver;
use super::{Errors, KeyPath};

pub use crate::event::request::{MAX_LINK_TTL, MIN_LINK_TTL, ttl_in_range};

/// `[payments]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PaymentsFile {
    /// How long a payment link stays payable, from `"30m"` to `"24h"`
    /// (Stripe's range for a Checkout Session). Default `"24h"`. A request
    /// may ask for less (the form's "Expires in", or `/stripe pay … 2h`).
    #[serde(with = "humantime_serde")]
    pub link_ttl: Duration,
    /// Allow requests with a live key (`sk_live_…`, `rk_live_…`): real
    /// customers pay real money. Default false: with a live key every
    /// request is refused, and a test key's cards say TEST MODE.
    pub allow_live: bool,
    /// The receiver whose channel gets the "Payment requested" card when
    /// the request was made where no receiver posts (a DM, another channel,
    /// the Slack shortcut). Without it, such a request is refused with a
    /// sentence naming the channels that can take one.
    pub receiver: Option<String>,
    /// Where Stripe sends the customer after paying (`success_url`).
    /// Default: Stripe's own confirmation page.
    pub success_url: Option<String>,
}

impl Default for PaymentsFile {
    fn default() -> Self {
        Self {
            link_ttl: MAX_LINK_TTL,
            allow_live: false,
            receiver: None,
            success_url: None,
        }
    }
}

/// Validated `[payments]`: the file's keys, checked.
pub type PaymentsConfig = PaymentsFile;

/// Validates `[payments]` against the receivers.
pub(super) fn validate(
    file: &PaymentsFile,
    receivers: &BTreeMap<String, Receiver>,
    errors: &mut Errors<'_>,
) -> PaymentsConfig {
    let path = KeyPath::root().key("payments");
    if !ttl_in_range(file.link_ttl) {
        errors.push(
            path.key("link_ttl"),
            format!(
                "{} is outside Stripe's range for a Checkout link: from 30m to 24h",
                humantime::format_duration(file.link_ttl)
            ),
        );
    }
    if let Some(name) = &file.receiver
        && !receivers.contains_key(name)
    {
        errors.push(
            path.key("receiver"),
            format!("{name:?} is not the name of a [[receivers]] entry"),
        );
    }
    if let Some(url) = &file.success_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        errors.push(
            path.key("success_url"),
            format!("{url:?} is not an http(s) URL"),
        );
    }
    file.clone()
}
