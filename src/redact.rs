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
    /// Show customer-facing links (the hosted invoice page, where anyone
    /// with the link can see and pay the invoice). Default false.
    pub customer_links: bool,
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
            customer_links: false,
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
            NameDisplay::Full => Some(name.to_owned()),
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

/// Masks card numbers in free text.
///
/// People write card numbers as one block of digits or as groups joined by
/// single spaces or dashes, sometimes followed by more digits (`… 4242 123`).
/// Within each run of such groups, every window of whole consecutive groups
/// with 12–19 digits that passes the Luhn check is masked, the longest first.
/// A single block is only masked whole, so long ids are not cut into pieces.
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
        // Collect the run: groups of digits joined by single separators.
        let mut groups: Vec<(usize, usize)> = Vec::new(); // char ranges of digit groups
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            let joins = j + 1 < chars.len()
                && (chars[j] == ' ' || chars[j] == '-')
                && chars[j + 1].is_ascii_digit();
            if !joins {
                break;
            }
            j += 1;
        }
        let digits = |a: usize, b: usize| -> Vec<u8> {
            groups[a..=b]
                .iter()
                .flat_map(|(s, e)| chars[*s..*e].iter().map(|c| *c as u8 - b'0'))
                .collect()
        };
        let mut g = 0;
        let mut cursor = i;
        while g < groups.len() {
            // The longest window of whole groups starting here that is a card number.
            let window = (g..groups.len()).rev().find(|&end| {
                let d = digits(g, end);
                (12..=19).contains(&d.len()) && luhn_valid(&d)
            });
            match window {
                Some(end) => {
                    out.extend(&chars[cursor..groups[g].0]);
                    out.push_str(MASKED_CARD_NUMBER);
                    cursor = groups[end].1;
                    g = end + 1;
                }
                None => g += 1,
            }
        }
        out.extend(&chars[cursor..j]);
        i = j;
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
            (
                "card 4242424242424242 123",
                "card [card number removed] 123",
            ),
            (
                "pan 4242 4242 4242 4242 exp 1230",
                "pan [card number removed] exp 1230",
            ),
            (
                "ref 0000 4000-0566-5566-5556",
                "ref 0000 [card number removed]",
            ),
            ("id 42424242424242420000", "id 42424242424242420000"),
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
