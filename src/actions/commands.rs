//! Chat commands: Telegram's `/start`, `/topics`, `/subscribe TOPIC`,
//! `/unsubscribe TOPIC` and `/status`, which manage a private chat's
//! subscriptions to `[telegram.topics.NAME]`.

use crate::chat::ChatCommand;
use crate::config::Config;
use crate::store::{Store, StoreError, now_ms};

/// The answer to a command in a chat, or `None` when the text is no command of ours.
pub async fn answer(
    config: &Config,
    store: &dyn Store,
    command: &ChatCommand,
) -> Result<Option<String>, StoreError> {
    let (chat_id, private, user_id) = (command.chat_id, command.private, command.user_id);
    let text = command.text.as_str();
    let mut words = text.split_whitespace();
    let Some(command) = words.next().and_then(|w| w.strip_prefix('/')) else {
        return Ok(None);
    };
    // In groups, commands may be addressed: /subscribe@our_bot.
    let command = command.split('@').next().unwrap_or_default();
    let argument = words.next().unwrap_or_default().to_lowercase();
    let topics = &config.telegram.topics;
    let allowed = |name: &str| {
        topics
            .get(name)
            .is_some_and(|t| t.allowed_users.contains(&user_id))
    };
    let mine: Vec<String> = topics
        .iter()
        .filter(|(name, _)| allowed(name))
        .map(|(name, topic)| format!("• {name} — {}", topic.description))
        .collect();
    let answer = match command {
        "start" | "help" => format!(
            "I post Stripe events for your team as cards with buttons.\n{}\nUse /subscribe TOPIC in a private chat with me.",
            if mine.is_empty() {
                "There are no topics you may subscribe to; ask your admin.".to_owned()
            } else {
                format!("Topics you may subscribe to:\n{}", mine.join("\n"))
            }
        ),
        "topics" => {
            if mine.is_empty() {
                "There are no topics you may subscribe to; ask your admin.".to_owned()
            } else {
                format!("Topics you may subscribe to:\n{}", mine.join("\n"))
            }
        }
        "subscribe" if !private => {
            "Subscriptions are for private chats: message me directly.".to_owned()
        }
        "subscribe" if argument.is_empty() => {
            "Which topic? /subscribe TOPIC (see /topics).".to_owned()
        }
        "subscribe" if !topics.contains_key(&argument) => {
            format!("There is no topic {argument:?}; see /topics.")
        }
        "subscribe" if !allowed(&argument) => {
            format!("You may not subscribe to {argument}; ask your admin.")
        }
        "subscribe" => {
            if store
                .subscribe(&argument, chat_id, user_id, now_ms())
                .await?
            {
                format!("Subscribed to {argument}. Its cards will arrive here.")
            } else {
                format!("This chat was already subscribed to {argument}.")
            }
        }
        "unsubscribe" if argument.is_empty() => {
            "Which topic? /unsubscribe TOPIC (see /status).".to_owned()
        }
        "unsubscribe" => {
            if store.unsubscribe(&argument, chat_id).await? {
                format!("Unsubscribed from {argument}.")
            } else {
                format!("This chat was not subscribed to {argument}.")
            }
        }
        "status" => {
            let subscribed = store.subscriptions(chat_id).await?;
            if subscribed.is_empty() {
                "This chat has no subscriptions; see /topics.".to_owned()
            } else {
                format!("This chat is subscribed to: {}.", subscribed.join(", "))
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(answer))
}
