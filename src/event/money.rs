//! Money in a currency's real minor units, formatted for people.
//!
//! Stripe sends amounts as integers in the currency's smallest unit. Most
//! currencies have two decimals; the zero-decimal ones (JPY, KRW, …) have
//! none and the three-decimal ones (BHD, KWD, …) have three. The lists are
//! Stripe's (`../shared/PLATFORMS.md` §B, "Currency formatting").

use std::fmt;

/// Currencies Stripe treats as zero-decimal: the amount is in whole units.
pub const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Currencies Stripe treats as three-decimal.
pub const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// Symbols shown before the amount. The ISO code always follows, so `$` is
/// never ambiguous; currencies not listed get the code alone.
const SYMBOLS: &[(&str, &str)] = &[
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("INR", "₹"),
    ("KRW", "₩"),
    ("CAD", "$"),
    ("AUD", "$"),
    ("NZD", "$"),
];

/// A three-letter ISO currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(String);

impl Currency {
    /// Parses a currency code as Stripe sends it (`usd`).
    pub fn parse(code: &str) -> Option<Self> {
        (code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()))
            .then(|| Self(code.to_ascii_uppercase()))
    }

    /// The upper-case code, `USD`.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in Stripe's minor units.
    pub fn exponent(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.code()) {
            0
        } else if THREE_DECIMAL.contains(&self.code()) {
            3
        } else {
            2
        }
    }

    fn symbol(&self) -> Option<&'static str> {
        SYMBOLS
            .iter()
            .find(|(code, _)| *code == self.code())
            .map(|(_, symbol)| *symbol)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount in minor units of a currency.
///
/// ```
/// use stripe_chatops::event::money::Money;
///
/// assert_eq!(Money::new(125_000, "usd").unwrap().to_string(), "$1,250.00 USD");
/// assert_eq!(Money::new(5_000, "jpy").unwrap().to_string(), "¥5,000 JPY");
/// assert_eq!(Money::new(12_500, "kwd").unwrap().to_string(), "12.500 KWD");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    /// The amount in minor units, as Stripe sends it; negative for credits.
    pub minor: i64,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount from Stripe's integer and currency code.
    pub fn new(minor: i64, currency: &str) -> Option<Self> {
        Currency::parse(currency).map(|currency| Self { minor, currency })
    }

    /// The amount as a decimal number of major units (for thresholds and sums).
    pub fn major(&self) -> f64 {
        self.minor as f64 / 10f64.powi(self.currency.exponent() as i32)
    }
}

/// Groups the digits of a whole number with commas: `1250000` → `1,250,000`.
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Money {
    /// `$1,250.00 USD`, `¥5,000 JPY`, `12.500 KWD`, `-$5.00 USD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent() as usize;
        let magnitude = self.minor.unsigned_abs().to_string();
        let padded = format!("{magnitude:0>width$}", width = exponent + 1);
        let (whole, fraction) = padded.split_at(padded.len() - exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let number = if exponent == 0 {
            group_thousands(whole)
        } else {
            format!("{}.{fraction}", group_thousands(whole))
        };
        match self.currency.symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}{number} {}", self.currency),
            None => write!(f, "{sign}{number} {}", self.currency),
        }
    }
}

/// The currencies Stripe can charge in (its presentment currencies, from
/// Stripe's "Supported currencies" page), upper case. A payment request in
/// any other code is refused before Stripe is asked.
pub const STRIPE_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
    "HUF", "IDR", "ILS", "INR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB",
    "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "STD", "SZL", "THB",
    "TJS", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VND",
    "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
];

/// Whether `code` (any case) is a currency Stripe charges in.
pub fn is_stripe_currency(code: &str) -> bool {
    Currency::parse(code.trim()).is_some_and(|c| STRIPE_CURRENCIES.contains(&c.code()))
}

/// Currencies Stripe takes with two decimals but charges in whole units
/// only (`PLATFORMS.md` §B): the decimals must be zero.
const WHOLE_UNITS_ONLY: &[&str] = &["ISK", "UGX"];

impl Money {
    /// Reads an amount as a person types it (`49.99`, `49,99`, `5000`,
    /// `1.230`) in `currency`, into Stripe's minor units, with Stripe's
    /// rules: no more decimals than the currency has (JPY none, KWD
    /// three), a three-decimal amount ending in 0, ISK and UGX in whole
    /// units, more than zero, at most 8 digits (12 for IDR). The error is
    /// the sentence to answer with.
    pub fn parse_major(text: &str, currency: &str) -> Result<Self, String> {
        let currency = Currency::parse(currency.trim())
            .filter(|c| is_stripe_currency(c.code()))
            .ok_or_else(|| {
                format!("{currency:?} is not a currency Stripe charges in (e.g. USD, EUR, JPY).")
            })?;
        let text = text.trim();
        // A decimal comma ("49,99") is read as a point; "1,250" (three
        // digits after it) is ambiguous and refused.
        let normalised = match (text.contains('.'), text.split_once(',')) {
            (false, Some((_, after))) if !after.contains(',') && after.len() != 3 => {
                text.replacen(',', ".", 1)
            }
            _ => text.to_owned(),
        };
        let (whole, fraction) = normalised
            .split_once('.')
            .unwrap_or((normalised.as_str(), ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || (normalised.contains('.') && fraction.is_empty())
        {
            return Err(format!(
                "{text:?} is not an amount: write it like 49.99, without thousands separators."
            ));
        }
        let exponent = currency.exponent() as usize;
        let code = currency.code().to_owned();
        if fraction.len() > exponent {
            return Err(if exponent == 0 {
                format!("{code} has no decimals: write a whole amount, e.g. 5000.")
            } else {
                format!("{code} has {exponent} decimals at most.")
            });
        }
        let fraction = format!("{fraction:0<exponent$}");
        if WHOLE_UNITS_ONLY.contains(&code.as_str()) && fraction.bytes().any(|b| b != b'0') {
            return Err(format!("Stripe charges {code} in whole units only."));
        }
        if exponent == 3 && !fraction.ends_with('0') {
            return Err(format!(
                "Stripe charges {code} in steps of 0.010: the last decimal must be 0."
            ));
        }
        let minor_digits = format!("{whole}{fraction}");
        let minor_digits = minor_digits.trim_start_matches('0');
        let most = if code == "IDR" { 12 } else { 8 };
        if minor_digits.len() > most {
            return Err(format!(
                "That is more than Stripe takes in one payment ({most} digits in {code}'s smallest unit)."
            ));
        }
        let minor: i64 = minor_digits.parse().unwrap_or(0);
        if minor <= 0 {
            return Err("The amount must be more than zero.".to_owned());
        }
        Ok(Self { minor, currency })
    }
}

/// `amount_gte = { amount = 1000, currency = "usd" }`: an amount in major
/// units of a currency, as routes and approval rules write it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Threshold {
    /// The amount in major units (`1000` means $1,000.00 for USD).
    pub amount: f64,
    /// Its currency.
    pub currency: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_real_minor_units() {
        let cases = [
            (125_000, "usd", "$1,250.00 USD"),
            (1250, "usd", "$12.50 USD"),
            (5, "usd", "$0.05 USD"),
            (0, "eur", "€0.00 EUR"),
            (5000, "jpy", "¥5,000 JPY"),
            (12_500, "kwd", "12.500 KWD"),
            (5, "bhd", "0.005 BHD"),
            (-500, "usd", "-$5.00 USD"),
            (123_456_789, "chf", "1,234,567.89 CHF"),
            (1_000_000, "krw", "₩1,000,000 KRW"),
            (999, "vnd", "999 VND"),
        ];
        for (minor, currency, expected) in cases {
            assert_eq!(Money::new(minor, currency).unwrap().to_string(), expected);
        }
    }

    #[test]
    fn major_units_follow_the_exponent() {
        assert_eq!(Money::new(5000, "jpy").unwrap().major(), 5000.0);
        assert_eq!(Money::new(12_500, "kwd").unwrap().major(), 12.5);
        assert_eq!(Money::new(1250, "usd").unwrap().major(), 12.5);
    }

    #[test]
    fn refuses_codes_that_are_not_currencies() {
        assert!(Currency::parse("us").is_none());
        assert!(Currency::parse("u$d").is_none());
        assert_eq!(Currency::parse("usd").unwrap().code(), "USD");
    }

    #[test]
    fn typed_amounts_become_real_minor_units() {
        let minor =
            |text: &str, currency: &str| Money::parse_major(text, currency).map(|m| m.minor);
        assert_eq!(minor("49.99", "eur"), Ok(4999));
        assert_eq!(minor("49,99", "EUR"), Ok(4999));
        assert_eq!(minor("49.9", "usd"), Ok(4990));
        assert_eq!(minor("49", "usd"), Ok(4900));
        assert_eq!(minor("5000", "JPY"), Ok(5000));
        assert_eq!(minor("1.230", "KWD"), Ok(1230));
        assert_eq!(minor("1.23", "kwd"), Ok(1230));
        assert_eq!(minor("5000", "ISK"), Ok(500_000));
        assert_eq!(minor("999999.99", "usd"), Ok(99_999_999));
        assert_eq!(minor("9999999999", "idr"), Ok(999_999_999_900));
        let refused = |text: &str, currency: &str, says: &str| {
            let error = Money::parse_major(text, currency).unwrap_err();
            assert!(error.contains(says), "{text} {currency}: {error}");
        };
        refused("49.99", "JPY", "JPY has no decimals");
        refused("1.234", "KWD", "last decimal must be 0");
        refused("1.2345", "KWD", "3 decimals at most");
        refused("49.999", "EUR", "2 decimals at most");
        refused("10.50", "ISK", "whole units only");
        refused("49.99", "XXX", "not a currency Stripe charges in");
        refused("49.99", "euro", "not a currency");
        refused("1,250", "usd", "not an amount");
        refused("-5", "usd", "not an amount");
        refused("4e3", "usd", "not an amount");
        refused("12.", "usd", "not an amount");
        refused("0.00", "usd", "more than zero");
        refused("1000000.00", "usd", "more than Stripe takes");
        refused("", "usd", "not an amount");
    }

    #[test]
    fn extreme_amounts_do_not_panic() {
        assert_eq!(
            Money::new(i64::MIN, "usd").unwrap().to_string(),
            "-$92,233,720,368,547,758.08 USD"
        );
        assert_eq!(
            Money::new(i64::MAX, "jpy").unwrap().to_string(),
            "¥9,223,372,036,854,775,807 JPY"
        );
    }
}
