//! The listeners that need no public URL: Slack Socket Mode, the Discord
//! gateway and Telegram long polling. Each turns what arrives into the same
//! clicks and commands as the HTTP endpoints, through the
//! [`crate::chat::ClickHandler`] that `lib.rs` gives it.

pub mod gateway;
pub mod socket_mode;
pub mod telegram;
