//! The Stripe event envelope: the verified bytes become a [`StripeEvent`] once.
//!
//! Only the envelope is checked here (`id`, `object: "event"`, `type`,
//! `created`, `livemode`, `data.object`). The object inside is kept as raw
//! JSON: later stages route and render from the stored payload, and an event
//! type we have never heard of is kept like any other.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// Longest accepted event id; Stripe's are about 30 characters.
const MAX_ID_LEN: usize = 255;

/// Longest accepted event type; Stripe's longest are about 60 characters.
const MAX_TYPE_LEN: usize = 128;

/// A Stripe event id (`evt_…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// Parses an event id: `evt_` followed by letters, digits or `_`.
    pub fn parse(id: &str) -> Result<Self, EnvelopeError> {
        let rest = id
            .strip_prefix("evt_")
            .ok_or(EnvelopeError::Invalid("id does not start with evt_"))?;
        if rest.is_empty()
            || id.len() > MAX_ID_LEN
            || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(EnvelopeError::Invalid("id is not a Stripe event id"));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The envelope of a verified Stripe event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `id`.
    pub id: EventId,
    /// `type`, e.g. `invoice.payment_failed`. Unknown types are kept.
    pub event_type: String,
    /// `created`, Unix seconds.
    pub created: i64,
    /// `livemode`: false for test mode.
    pub livemode: bool,
    /// `api_version` the payload is rendered in.
    pub api_version: Option<String>,
    /// `account`: the connected account the event came from (Connect only).
    pub connect_account: Option<String>,
}

/// Why a verified body is not a Stripe event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or a required field is missing or of the wrong type.
    #[error("not a Stripe event: {0}")]
    Malformed(String),
    /// JSON, but a field's value is not what Stripe sends.
    #[error("not a Stripe event: {0}")]
    Invalid(&'static str),
    /// A thin event (`v2.core.event`), which carries no object.
    #[error(
        "thin events (object \"v2.core.event\") are not supported: send snapshot events to this endpoint"
    )]
    ThinEvent,
}

/// The envelope as it is on the wire. Every field is optional here so that
/// one pass over the bytes can tell a thin event or a non-event apart from a
/// malformed event, each with its own message.
#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    livemode: Option<bool>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(borrow, default)]
    data: Option<WireData<'a>>,
}

#[derive(Deserialize)]
struct WireData<'a> {
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

fn missing(field: &str) -> EnvelopeError {
    EnvelopeError::Malformed(format!("missing field `{field}`"))
}

/// Parses the envelope of a raw event body in one pass.
pub fn parse(body: &[u8]) -> Result<StripeEvent, EnvelopeError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => EnvelopeError::Invalid("body is not a JSON object"),
                Err(error) => EnvelopeError::Malformed(short_json_error(&error)),
            },
        );
    }
    let wire: WireEvent<'_> =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::Malformed(short_json_error(&e)))?;
    match wire.object.as_deref() {
        Some("event") => {}
        Some("v2.core.event") => return Err(EnvelopeError::ThinEvent),
        Some(_) => return Err(EnvelopeError::Invalid("object is not \"event\"")),
        None => return Err(missing("object")),
    }
    let id = EventId::parse(&wire.id.ok_or_else(|| missing("id"))?)?;
    let event_type = wire.event_type.ok_or_else(|| missing("type"))?;
    if event_type.is_empty()
        || event_type.len() > MAX_TYPE_LEN
        || !event_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
    {
        return Err(EnvelopeError::Invalid("type is not a Stripe event type"));
    }
    let created = wire.created.ok_or_else(|| missing("created"))?;
    let livemode = wire.livemode.ok_or_else(|| missing("livemode"))?;
    let object = wire
        .data
        .and_then(|data| data.object)
        .ok_or(EnvelopeError::Invalid("missing data.object"))?;
    if !object.get().trim_start().starts_with('{') {
        return Err(EnvelopeError::Invalid("data.object is not an object"));
    }
    if created <= 0 {
        return Err(EnvelopeError::Invalid("created is not a Unix time"));
    }
    if let Some(account) = &wire.account
        && !account.starts_with("acct_")
    {
        return Err(EnvelopeError::Invalid(
            "account is not a connected account id",
        ));
    }
    Ok(StripeEvent {
        id,
        event_type: event_type.into_owned(),
        created,
        livemode,
        api_version: wire.api_version,
        connect_account: wire.account,
    })
}

/// serde_json's message without the echo of any input.
fn short_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    // "invalid type: string \"…\", expected …" would echo input; keep the category only.
    match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!(
                "body is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            )
        }
        serde_json::error::Category::Data if text.starts_with("missing field") => {
            text.split(" at line").next().unwrap_or(&text).to_owned()
        }
        _ => "a field has the wrong type".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","api_version":"2024-06-20","created":1686089970,"data":{"object":{"id":"in_1","object":"invoice"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"invoice.payment_failed"}"#;

    #[test]
    fn parses_a_real_envelope() {
        let event = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(event.id.as_str(), "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert_eq!(event.event_type, "invoice.payment_failed");
        assert!(!event.livemode);
        assert_eq!(event.api_version.as_deref(), Some("2024-06-20"));
        assert_eq!(event.connect_account, None);
    }

    #[test]
    fn keeps_unknown_types_and_connect_accounts() {
        let body = GOOD
            .replace(
                "invoice.payment_failed",
                "billing.meter.error_report_triggered",
            )
            .replace(
                "\"livemode\":false",
                "\"livemode\":true,\"account\":\"acct_123\"",
            );
        let event = parse(body.as_bytes()).unwrap();
        assert_eq!(event.event_type, "billing.meter.error_report_triggered");
        assert_eq!(event.connect_account.as_deref(), Some("acct_123"));
        assert!(event.livemode);
    }

    #[test]
    fn refuses_what_is_not_an_event_with_a_reason() {
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "body is not valid JSON"),
            ("[]".into(), "body is not a JSON object"),
            ("".into(), "body is not valid JSON"),
            (r#"{"id":"evt_1"}"#.into(), "missing field `object`"),
            (
                GOOD.replace("\"object\":\"event\"", "\"object\":\"invoice\""),
                "object is not \"event\"",
            ),
            (
                GOOD.replace("evt_1NG8Du2eZvKYlo2CUI79vXWy", "ch_1"),
                "id does not start with evt_",
            ),
            (
                GOOD.replace("invoice.payment_failed", "Invoice Paid!"),
                "type is not a Stripe event type",
            ),
            (
                GOOD.replace(
                    "\"data\":{\"object\":{\"id\":\"in_1\",\"object\":\"invoice\"}},",
                    "",
                ),
                "missing data.object",
            ),
            (
                GOOD.replace("{\"id\":\"in_1\",\"object\":\"invoice\"}", "[1]"),
                "data.object is not an object",
            ),
            (
                GOOD.replace("\"livemode\":false", "\"livemode\":\"no\""),
                "wrong type",
            ),
            (
                GOOD.replace(",\"created\":1686089970", ""),
                "missing field `created`",
            ),
        ];
        for (body, reason) in cases {
            let error = parse(body.as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with("not a Stripe event"), "{error}");
            assert!(error.contains(reason), "{body}: {error}");
        }
    }

    #[test]
    fn thin_events_get_their_own_message() {
        let body = r#"{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.no_meter_found"}"#;
        assert_eq!(parse(body.as_bytes()), Err(EnvelopeError::ThinEvent));
    }

    #[test]
    fn errors_do_not_echo_input() {
        let body = GOOD.replace("\"livemode\":false", "\"livemode\":\"jenny@example.com\"");
        let error = parse(body.as_bytes()).unwrap_err().to_string();
        assert!(!error.contains("jenny"), "{error}");
    }
}
