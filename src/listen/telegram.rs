//! Telegram long polling: `getUpdates` in a loop, so that buttons and
//! commands work without a public URL (the default when `[telegram]` has
//! no `webhook_secret_token`). Each update goes the same way as one from
//! `POST /telegram/webhook`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::Requester;
use tokio::sync::watch;

use crate::chat::ClickHandler;
use crate::chat::telegram::inbound::handle_update;

/// Long-poll timeout of `getUpdates`.
const POLL_TIMEOUT_SECONDS: u32 = 25;
/// The shortest time between two `getUpdates` (servers that ignore `timeout` answer at once).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Wait after a failed `getUpdates`.
const POLL_BACKOFF: Duration = Duration::from_secs(5);

/// Long polling until `stop`: `getUpdates` for callback queries and messages.
pub async fn poll(
    handler: Arc<dyn ClickHandler>,
    bot: teloxide::Bot,
    mut stop: watch::Receiver<bool>,
) {
    let mut offset: i32 = 0;
    loop {
        let started = tokio::time::Instant::now();
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(POLL_TIMEOUT_SECONDS);
        let outcome = tokio::select! {
            outcome = request => outcome,
            _ = stop.changed() => return,
        };
        let pause = match outcome {
            Ok(updates) => {
                for update in updates {
                    offset = offset.max(update.id.0 as i32 + 1);
                    let json = serde_json::to_value(&update).unwrap_or(Value::Null);
                    let (handler, bot) = (handler.clone(), bot.clone());
                    tokio::spawn(async move { handle_update(handler.as_ref(), &bot, &json).await });
                }
                MIN_POLL_INTERVAL.saturating_sub(started.elapsed())
            }
            Err(error) => {
                tracing::warn!(error = %crate::chat::scrub(&error.to_string(), ""), "Telegram getUpdates failed; retrying");
                POLL_BACKOFF
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}
