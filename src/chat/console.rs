//! Standard output: the card as plain text (for `serve` without a chat
//! platform, and the demo). Also the text a generic webhook carries.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Chat, MessageRef, Outbound, SendError};
use crate::config::Destination;
use crate::render::Card;

/// The reference of a card written to standard output (it cannot be edited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum ConsoleMessage {
    /// A block of lines on standard output.
    Console,
}

/// Plain text lines of a card.
pub fn render(card: &Card) -> String {
    let mut out = format!("[{}] {}\n", card.severity.name(), card.title);
    if !card.badges.is_empty() {
        out.push_str(&format!("  {}\n", card.badges.join(" · ")));
    }
    if let Some(summary) = &card.summary {
        out.push_str(&format!("  {summary}\n"));
    }
    for field in &card.fields {
        out.push_str(&format!("  {}: {}\n", field.label, field.value));
    }
    for action in &card.actions {
        out.push_str(&format!("  [{}]", action.label));
    }
    if !card.actions.is_empty() {
        out.push('\n');
    }
    for link in &card.links {
        out.push_str(&format!("  {}: {}\n", link.label, link.url));
    }
    out.push_str(&format!("  {}\n", card.footer));
    out
}

/// Where console cards are written.
pub type ConsoleOutput = Arc<Mutex<Box<dyn Write + Send>>>;

/// The console adapter: one card per block of lines, then a blank line.
#[derive(Clone)]
pub struct Console {
    out: ConsoleOutput,
}

impl Console {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        Self::new(Arc::new(Mutex::new(Box::new(std::io::stdout()))))
    }

    /// Writes to `out`.
    pub fn new(out: ConsoleOutput) -> Self {
        Self { out }
    }

    fn write(&self, text: &str) -> Result<(), SendError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| SendError::Transient("console output is poisoned".to_owned()))?;
        writeln!(out, "{}", text.trim_end())
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush())
            .map_err(|e| SendError::Transient(format!("cannot write to standard output: {e}")))
    }
}

#[async_trait]
impl Chat for Console {
    async fn post(&self, _: &Destination, message: &Outbound<'_>) -> Result<MessageRef, SendError> {
        self.write(message.payload.as_str().unwrap_or_default())?;
        Ok(MessageRef::new(&ConsoleMessage::Console))
    }

    async fn edit(&self, _: &MessageRef, message: &Outbound<'_>) -> Result<(), SendError> {
        self.write(message.payload.as_str().unwrap_or_default())
    }
}
