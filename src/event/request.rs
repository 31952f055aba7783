//! What a payment request from chat says: `49.99 EUR "Support deposit"
//! jenny@example.com 2h`, or a form's fields, read into an amount in the
//! currency's real minor units, a description, the customer and the link's
//! lifetime. Pure: every refusal is the sentence to answer with.

use std::time::Duration;

use super::money::Money;

/// Stripe's shortest Checkout Session lifetime (`expires_at`): 30 minutes.
pub const MIN_LINK_TTL: Duration = Duration::from_secs(30 * 60);
/// Stripe's longest Checkout Session lifetime: 24 hours.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// Whether Stripe takes `ttl` as a Checkout Session's lifetime.
pub fn ttl_in_range(ttl: Duration) -> bool {
    (MIN_LINK_TTL..=MAX_LINK_TTL).contains(&ttl)
}

/// How to ask, shown for `pay help` and anything not understood.
pub const USAGE: &str = "Request a payment: pay 49.99 EUR \"What it is for\" [customer@example.com or cus_…] [expires in, e.g. 2h]";

/// The longest description (the line item's name) taken.
pub const MAX_DESCRIPTION: usize = 250;

/// A customer to charge: a Stripe customer, or an e-mail Checkout fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payer {
    /// `cus_…`: `customer`.
    Customer(String),
    /// An e-mail address: `customer_email`.
    Email(String),
}

impl Payer {
    /// Reads a customer id (`cus_…`) or an e-mail address (also as Slack
    /// sends it: `<mailto:a@b.c|a@b.c>`).
    pub fn parse(word: &str) -> Option<Self> {
        let word = word.trim();
        if word.len() <= 255
            && word.strip_prefix("cus_").is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        {
            return Some(Self::Customer(word.to_owned()));
        }
        // Slack sends an e-mail typed in a command as `<mailto:a@b.c|a@b.c>`.
        let word = word
            .strip_prefix("<mailto:")
            .and_then(|rest| rest.split('|').nth(1))
            .and_then(|rest| rest.strip_suffix('>'))
            .unwrap_or(word);
        let email = word.len() <= 254
            && word.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !word.contains(char::is_whitespace)
                    && !word.contains(['<', '>', '"'])
            });
        email.then(|| Self::Email(word.to_owned()))
    }

    /// The id or address, as the store keeps it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Customer(id) | Self::Email(id) => id,
        }
    }
}

/// A payment request as understood: what Stripe will be asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The amount, in real minor units.
    pub money: Money,
    /// What it is for.
    pub description: String,
    /// Who pays, when said.
    pub payer: Option<Payer>,
    /// How long the link stays payable, when said.
    pub ttl: Option<Duration>,
}

/// Splits a command's words, keeping "quoted words" (straight or curly
/// quotes, as Slack's clients type them) together.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' | '“' | '”' => {
                if quoted || !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.retain(|w| !w.trim().is_empty());
    out
}

fn is_currency_word(word: &str) -> bool {
    word.len() == 3 && word.bytes().all(|b| b.is_ascii_alphabetic())
}

fn ttl_of(word: &str) -> Option<Duration> {
    let word = word.trim();
    // A bare number is an amount or a description, never a lifetime.
    if word
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return None;
    }
    humantime::parse_duration(word).ok()
}

/// Reads a command's words after `pay`: the amount and currency (either
/// order), what it is for, then optionally the customer and the link's
/// lifetime. The error is the sentence to answer with.
pub fn parse_text(text: &str) -> Result<Draft, String> {
    let mut words = words(text);
    if words.is_empty() || (words.len() == 1 && words[0].eq_ignore_ascii_case("help")) {
        return Err(USAGE.to_owned());
    }
    if words.len() < 3 {
        return Err(format!(
            "Say the amount, the currency and what it is for. {USAGE}"
        ));
    }
    let (amount, currency) = if is_currency_word(&words[0]) && !is_currency_word(&words[1]) {
        (words.remove(1), words.remove(0))
    } else {
        (words.remove(0), words.remove(0))
    };
    let mut payer = None;
    let mut ttl = None;
    // The customer and the lifetime, in either order, at the end.
    for _ in 0..2 {
        let Some(last) = words.last() else { break };
        if payer.is_none()
            && let Some(found) = Payer::parse(last)
        {
            payer = Some(found);
            words.pop();
        } else if ttl.is_none()
            && words.len() > 1
            && let Some(found) = ttl_of(last)
        {
            ttl = Some(found);
            words.pop();
        }
    }
    draft(&amount, &currency, &words.join(" "), payer, ttl).map_err(|(_, why)| why)
}

/// A field of the payment request form, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    /// The amount.
    Amount,
    /// The currency.
    Currency,
    /// What it is for.
    Description,
    /// The customer.
    Customer,
    /// How long the link is payable.
    Expires,
}

impl FormField {
    /// Its name in the form (the Slack modal's `block_id`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Amount => "amount",
            Self::Currency => "currency",
            Self::Description => "description",
            Self::Customer => "customer",
            Self::Expires => "expires",
        }
    }
}

/// Reads a form's fields. The error names the field and is the sentence to
/// answer with.
pub fn parse_fields(
    amount: &str,
    currency: &str,
    description: &str,
    customer: &str,
    expires: &str,
) -> Result<Draft, (FormField, String)> {
    let payer = match customer.trim() {
        "" => None,
        given => Some(Payer::parse(given).ok_or_else(|| {
            (
                FormField::Customer,
                format!("{given:?} is neither a customer id (cus_…) nor an e-mail address."),
            )
        })?),
    };
    let ttl = match expires.trim() {
        "" => None,
        given => Some(humantime::parse_duration(given).map_err(|_| {
            (
                FormField::Expires,
                format!("{given:?} is not a duration: write it like 30m, 2h or 24h."),
            )
        })?),
    };
    draft(amount, currency, description, payer, ttl)
}

fn draft(
    amount: &str,
    currency: &str,
    description: &str,
    payer: Option<Payer>,
    ttl: Option<Duration>,
) -> Result<Draft, (FormField, String)> {
    let money = Money::parse_major(amount, currency).map_err(|error| {
        let field = if super::money::is_stripe_currency(currency) {
            FormField::Amount
        } else {
            FormField::Currency
        };
        (field, error)
    })?;
    let description = description.trim();
    let refused = |why: String| Err((FormField::Description, why));
    if description.is_empty() {
        return refused(format!("Say what the payment is for. {USAGE}"));
    }
    if description.chars().count() > MAX_DESCRIPTION {
        return refused(format!(
            "The description is longer than {MAX_DESCRIPTION} characters."
        ));
    }
    if description.chars().any(char::is_control) {
        return refused("The description must be one line.".to_owned());
    }
    if let Some(ttl) = ttl
        && !ttl_in_range(ttl)
    {
        return Err((
            FormField::Expires,
            format!(
                "A link can stay payable from 30m to 24h (Stripe's range), not {}.",
                humantime::format_duration(ttl)
            ),
        ));
    }
    Ok(Draft {
        money,
        description: description.to_owned(),
        payer,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_amount_currency_description_customer_and_lifetime() {
        let d = parse_text("49.99 EUR \"Support deposit\" jenny@example.com").unwrap();
        assert_eq!(d.money.minor, 4999);
        assert_eq!(d.money.currency.code(), "EUR");
        assert_eq!(d.description, "Support deposit");
        assert_eq!(d.payer, Some(Payer::Email("jenny@example.com".into())));
        assert_eq!(d.ttl, None);

        let d = parse_text("EUR 49.99 Support deposit cus_Q1 2h").unwrap();
        assert_eq!(d.description, "Support deposit");
        assert_eq!(d.payer, Some(Payer::Customer("cus_Q1".into())));
        assert_eq!(d.ttl, Some(Duration::from_secs(7200)));

        let d = parse_text("5000 jpy “Room 12” <mailto:a@b.co|a@b.co>").unwrap();
        assert_eq!(d.money.minor, 5000);
        assert_eq!(d.description, "Room 12");
        assert_eq!(d.payer, Some(Payer::Email("a@b.co".into())));

        let d = parse_text("1.250 KWD Deposit").unwrap();
        assert_eq!(d.money.minor, 1250);
        // A description that ends in a number keeps it.
        assert_eq!(
            parse_text("10 usd Table 12").unwrap().description,
            "Table 12"
        );
    }

    #[test]
    fn a_form_names_its_wrong_field() {
        let field = |amount: &str, currency: &str| {
            parse_fields(amount, currency, "Deposit", "", "")
                .unwrap_err()
                .0
        };
        assert_eq!(field("49.999", "EUR"), FormField::Amount);
        assert_eq!(field("49.99", "JPY"), FormField::Amount);
        assert_eq!(field("49.99", "ABC"), FormField::Currency);
        assert_eq!(
            parse_fields("10", "usd", "Deposit", "", "48h")
                .unwrap_err()
                .0,
            FormField::Expires
        );
    }

    #[test]
    fn bad_commands_get_a_sentence() {
        assert!(parse_text("").unwrap_err().starts_with("Request a payment"));
        assert!(
            parse_text("49.99 EUR")
                .unwrap_err()
                .contains("what it is for")
        );
        assert!(
            parse_text("49.99 JPY Deposit")
                .unwrap_err()
                .contains("no decimals")
        );
        assert!(
            parse_text("49.99 ABC Deposit")
                .unwrap_err()
                .contains("not a currency")
        );
        assert!(
            parse_text("1.234 KWD Deposit")
                .unwrap_err()
                .contains("last decimal")
        );
        assert!(
            parse_text("10 usd Deposit 10m")
                .unwrap_err()
                .contains("30m to 24h")
        );
        assert!(
            parse_text("10 usd Deposit 48h")
                .unwrap_err()
                .contains("30m to 24h")
        );
        assert!(
            parse_fields("10", "usd", "Deposit", "not-an-email", "")
                .is_err_and(|(field, why)| field == FormField::Customer && why.contains("neither"))
        );
        assert!(
            parse_fields("10", "usd", "", "", "")
                .is_err_and(|(field, why)| field == FormField::Description
                    && why.contains("what the payment is for"))
        );
        assert!(
            parse_fields("10", "usd", "Deposit", "", "soon").is_err_and(|(field, why)| field
                == FormField::Expires
                && why.contains("not a duration"))
        );
    }
}
