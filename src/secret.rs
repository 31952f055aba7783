//! Secrets: a value that never prints, and where it comes from.
//!
//! Every secret in `bot.toml` can be given inline, as the name of an
//! environment variable (`*_env`), or as a file path (`*_file`). Whatever the
//! source, the value ends up in a [`Secret`], whose `Debug` prints
//! `[redacted]` and which has no `Display`, so it cannot reach a log line or
//! an error message by accident.

use std::fmt;

/// A secret string (webhook signing secret, API key, bot token).
///
/// `Debug` prints `[redacted]`; there is deliberately no `Display`. Use
/// [`Secret::expose`] at the single place where the raw value is needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a raw secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call it only where the secret is used (HMAC key, auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Splits the text of an environment variable or a secrets file into secrets.
///
/// One secret per line, or several separated by commas or white space; `#`
/// starts a comment line in a file. Empty pieces are dropped.
pub fn split_secret_list(text: &str) -> Vec<Secret> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(Secret::new)
        .collect()
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let secret = Secret::new("whsec_supersecret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(vec![secret])), "Some([[redacted]])");
    }

    #[test]
    fn splits_lines_commas_and_comments() {
        let secrets = split_secret_list("# rotated 2026-11\nwhsec_a, whsec_b\n\n  whsec_c  \n");
        let raw: Vec<&str> = secrets.iter().map(Secret::expose).collect();
        assert_eq!(raw, ["whsec_a", "whsec_b", "whsec_c"]);
    }
}
