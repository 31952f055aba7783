//! The Discord gateway through serenity: button presses over the bot's own
//! WebSocket, so that Discord buttons work without a public URL.
//!
//! It runs when `[discord] gateway = true`. Discord delivers interactions
//! either to the gateway or to an Interactions Endpoint URL, never both, so
//! leave the endpoint URL empty in the Developer Portal when using it. Each
//! press goes through the same code as `POST /interactions/discord` (minus
//! the signature, which the authenticated gateway makes unnecessary), and
//! the response is sent with `POST /interactions/{id}/{token}/callback`.

use std::sync::Arc;

use async_trait::async_trait;
use serenity::all::{Client, Context, EventHandler, GatewayIntents, Interaction, Ready};
use tokio::sync::watch;

use crate::chat::ClickHandler;
use crate::chat::discord::{http_builder, inbound};
use crate::config::DiscordConfig;

struct Handler {
    clicks: Arc<dyn ClickHandler>,
    config: DiscordConfig,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "Discord gateway connected");
        inbound::register_command(&ctx.http).await;
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        // Each variant serializes without its `type`: dispatch on the variant.
        let (id, token, json, command) = match &interaction {
            Interaction::Component(press) => {
                (press.id, &press.token, serde_json::to_value(press), false)
            }
            Interaction::Command(command) => (
                command.id,
                &command.token,
                serde_json::to_value(command),
                true,
            ),
            _ => return,
        };
        let Ok(json) = json else {
            return;
        };
        let response = if command {
            if json["data"]["name"] != inbound::COMMAND_NAME {
                return;
            }
            inbound::command(self.clicks.clone(), &self.config, &json).await
        } else {
            inbound::component(self.clicks.clone(), &self.config, &json).await
        };
        if let Err(error) = ctx
            .http
            .create_interaction_response(id, token, &response, Vec::new())
            .await
        {
            tracing::warn!(error = %error, "Discord gateway: cannot answer an interaction");
        }
    }
}

/// Runs the gateway client until `stop`.
pub async fn run(
    config: DiscordConfig,
    clicks: Arc<dyn ClickHandler>,
    mut stop: watch::Receiver<bool>,
) {
    if config.bot_token.is_none() {
        return;
    }
    let http = http_builder(&config);
    let handler = Handler {
        clicks,
        config: config.clone(),
    };
    // Interactions need no intent: they reach every connected bot.
    let builder =
        serenity::client::ClientBuilder::new_with_http(http.build(), GatewayIntents::empty())
            .event_handler(handler);
    let mut client: Client = match builder.await {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Discord gateway: cannot start");
            return;
        }
    };
    let shards = client.shard_manager.clone();
    tokio::select! {
        result = client.start() => {
            if let Err(error) = result {
                tracing::error!(error = %error, "Discord gateway stopped");
            }
        }
        _ = stop.changed() => shards.shutdown_all().await,
    }
}
