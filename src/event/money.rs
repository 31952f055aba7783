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
