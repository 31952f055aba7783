//! Redaction: what of a customer may leave the process, per receiver.
//!
//! Pure functions and a policy with safe defaults: e-mail masked
//! (`j***@example.com`), name reduced to initials, phone and address hidden,
//! metadata only by allowlist, card brand and last4 by policy, and any digit
//! run in free text that passes the Luhn check masked. The same policy is
//! applied before rendering and before logging.

use serde::Deserialize;

/// How a customer's name is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameDisplay {
    /// `Jenny Rosen` → `J. R.` (the default).
    #[default]
    Initials,
    /// The full name.
    Full,
    /// Not shown.
    Hidden,
}

/// How a customer's e-mail address is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailDisplay {
    /// `jenny.rosen@example.com` → `j***@example.com` (the default).
    #[default]
    Masked,
    /// The full address.
    Full,
    /// Not shown.
    Hidden,
}

/// A redaction policy: `[redaction]` globally, or per receiver.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RedactionPolicy {
    /// `"masked"` (default), `"full"` or `"hidden"`.
    pub email: EmailDisplay,
    /// `"initials"` (default), `"full"` or `"hidden"`.
    pub name: NameDisplay,
    /// Show phone numbers. Default false.
    pub phone: bool,
    /// Show postal addresses. Default false.
    pub address: bool,
    /// Show card brand and last 4 digits. Default true (they identify a card, not a person).
    pub card_last4: bool,
    /// Metadata keys that may be shown; every other key is dropped. Default none.
    pub metadata_allowlist: Vec<String>,
}

impl Default for RedactionPolicy {
    fn default() -> Self {
        Self {
            email: EmailDisplay::Masked,
            name: NameDisplay::Initials,
            phone: false,
            address: false,
            card_last4: true,
            metadata_allowlist: Vec::new(),
        }
    }
}

impl RedactionPolicy {
    /// The e-mail as this policy allows it.
    pub fn email(&self, email: &str) -> Option<String> {
        match self.email {
            EmailDisplay::Full => Some(email.to_owned()),
            EmailDisplay::Masked => Some(mask_email(email)),
            EmailDisplay::Hidden => None,
        }
    }

    /// The name as this policy allows it.
    pub fn name(&self, name: &str) -> Option<String> {
        match self.name {
            NameDisplay::Full => Some(mask_card_numbers(name)),
            NameDisplay::Initials => initials(name),
            NameDisplay::Hidden => None,
        }
    }

    /// Whether a metadata key may be shown.
    pub fn allows_metadata(&self, key: &str) -> bool {
        self.metadata_allowlist.iter().any(|allowed| allowed == key)
    }
}

/// `jenny.rosen@example.com` → `j***@example.com`. Text that is not an
/// address is masked whole.
pub fn mask_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        _ => "***".to_owned(),
    }
}

/// `Jenny Rosen` → `J. R.`; at most three initials; `None` for a blank name.
pub fn initials(name: &str) -> Option<String> {
    let letters: Vec<String> = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphabetic()))
        .take(3)
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect();
    (!letters.is_empty()).then(|| letters.join(" "))
}

/// Whether a string of digits passes the Luhn check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, digit) in digits.iter().rev().enumerate() {
        let mut d = u32::from(*digit);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// What replaces a card number found in free text.
pub const MASKED_CARD_NUMBER: &str = "[card number removed]";

/// Masks every run of 12–19 digits (single spaces or dashes may separate
/// them, as people write card numbers) that passes the Luhn check.
pub fn mask_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // Extend over digits and single separators between digits.
        let start = i;
        let mut end = i;
        let mut digits = Vec::new();
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(chars[j] as u8 - b'0');
                end = j + 1;
                j += 1;
            } else if (chars[j] == ' ' || chars[j] == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        if (12..=19).contains(&digits.len()) && luhn_valid(&digits) {
            out.push_str(MASKED_CARD_NUMBER);
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_emails() {
        for (email, expected) in [
            ("jenny.rosen@example.com", "j***@example.com"),
            ("J@x.io", "J***@x.io"),
            ("not an address", "***"),
            ("@example.com", "***"),
            ("émile@exemple.fr", "é***@exemple.fr"),
        ] {
            assert_eq!(mask_email(email), expected);
        }
    }

    #[test]
    fn reduces_names_to_initials() {
        assert_eq!(initials("Jenny Rosen").as_deref(), Some("J. R."));
        assert_eq!(
            initials("  jean-luc  de la mare  ").as_deref(),
            Some("J. D. L.")
        );
        assert_eq!(initials("   "), None);
        assert_eq!(initials("Ölaf").as_deref(), Some("Ö."));
    }

    #[test]
    fn masks_luhn_valid_digit_runs_only() {
        let cases = [
            (
                "card 4242424242424242 declined",
                "card [card number removed] declined",
            ),
            ("card 4242 4242 4242 4242.", "card [card number removed]."),
            ("card 4000-0566-5566-5556", "card [card number removed]"),
            ("order 1234567812345678", "order 1234567812345678"),
            ("invoice 0007 of 2026", "invoice 0007 of 2026"),
            ("phone +1 555 555 0100", "phone +1 555 555 0100"),
            ("amex 378282246310005", "amex [card number removed]"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_card_numbers(text), expected, "{text}");
        }
    }

    #[test]
    fn default_policy_is_safe() {
        let policy = RedactionPolicy::default();
        assert_eq!(
            policy.email("jenny.rosen@example.com").as_deref(),
            Some("j***@example.com")
        );
        assert_eq!(policy.name("Jenny Rosen").as_deref(), Some("J. R."));
        assert!(!policy.phone && !policy.address);
        assert!(!policy.allows_metadata("order_ref"));
    }
}
