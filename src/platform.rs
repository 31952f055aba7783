//! The chat platforms a card can go to: one enum, the single list every
//! other part of the crate names a platform by.
//!
//! What each platform *does* (its renderer, sender and inbound side) lives in
//! its folder under `chat/`; `chat::registry` maps each variant to it.

use std::fmt;

/// A place cards are sent to and clicks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    /// Slack: Block Kit.
    Slack,
    /// Discord: an embed plus components.
    Discord,
    /// Telegram: HTML plus an inline keyboard.
    Telegram,
    /// Standard output: plain text.
    Console,
    /// A generic JSON webhook (Mattermost, Teams or Zulip bridges): the plain text and the card.
    Webhook,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 5] = [
        Self::Slack,
        Self::Discord,
        Self::Telegram,
        Self::Console,
        Self::Webhook,
    ];

    /// Lower-case name, as in `bot.toml`, metrics, logs and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
            Self::Console => "console",
            Self::Webhook => "webhook",
        }
    }

    /// Whether people can press a card's buttons here (and so whether its
    /// buttons get action tokens): not on standard output or a generic webhook.
    pub fn takes_clicks(self) -> bool {
        matches!(self, Self::Slack | Self::Discord | Self::Telegram)
    }

    /// The platform of a lower-case name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for platform in Platform::ALL {
            assert_eq!(Platform::parse(platform.name()), Some(platform));
        }
        assert_eq!(Platform::parse("teams"), None);
    }
}
