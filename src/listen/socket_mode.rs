//! Slack Socket Mode through slack-morphism: button clicks over a WebSocket
//! the bot opens itself, so that buttons work without a public URL.
//!
//! It starts when `[slack] app_token` (an `xapp-` token with
//! `connections:write`) is set. slack-morphism calls `apps.connections.open`,
//! keeps the WebSocket up, and acknowledges each envelope; Slack itself has
//! authenticated the payload, so no signing secret is involved. Clicks then
//! go the same way as on the HTTP endpoint: checked, run once, audited, and
//! shown on the card; private notices go to the payload's `response_url`.
//! The `/stripe …` slash command arrives the same way: acknowledged with
//! an empty reply, its look-up answered privately through `response_url`.

use std::sync::Arc;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::prelude::*;
use tokio::sync::watch;

use crate::chat::slack::inbound::{run_click, run_lookup};
use crate::chat::{Click, ClickHandler, LookupQuery};
use crate::config::SlackConfig;
use crate::platform::Platform;

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// Runs the Socket Mode listener until `stop`.
pub async fn run(
    config: SlackConfig,
    handler: Arc<dyn ClickHandler>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(app_token) = config.app_token.as_ref() else {
        return;
    };
    let https = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(builder) => builder
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build(),
        Err(error) => {
            tracing::error!(error = %error, "Slack Socket Mode: no TLS roots; not started");
            return;
        }
    };
    let connector: Connector =
        SlackClientHyperConnector::with_connector(https).with_slack_api_url(&config.api_base_url);
    let client = Arc::new(SlackClient::new(connector));
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_interaction_events(on_interaction)
        .with_command_events(on_command);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(handler),
    );
    let listener = SlackClientSocketModeListener::new(
        &SlackClientSocketModeConfig::new(),
        environment,
        callbacks,
    );
    let token = SlackApiToken::new(SlackApiTokenValue::new(app_token.expose().to_owned()));
    if let Err(error) = listener.listen_for(&token).await {
        tracing::error!(error = %error, "Slack Socket Mode: cannot open a connection; not started");
        return;
    }
    listener.start().await;
    tracing::info!("Slack Socket Mode connected");
    let _ = stop.changed().await;
    listener.shutdown().await;
}

fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<Connector>>,
    _state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    tracing::warn!(error = %error, "Slack Socket Mode error");
    axum::http::StatusCode::OK
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let SlackInteractionEvent::BlockActions(event) = event else {
        return Ok(());
    };
    let handler = {
        let state = state.read().await;
        state.get_user_state::<Arc<dyn ClickHandler>>().cloned()
    };
    let Some(handler) = handler else {
        return Ok(());
    };
    let Some(user) = event.user else {
        return Ok(());
    };
    let user_id = user.id.to_string();
    let handle = user
        .username
        .clone()
        .or(user.name.clone())
        .unwrap_or_else(|| user_id.clone());
    let response_url = event.response_url.map(|url| url.0.to_string());
    for action in event.actions.unwrap_or_default() {
        // Link buttons also send a payload; they carry no token.
        let Some(token) = action.value else {
            continue;
        };
        let click = Click::new(Platform::Slack, &user_id, &handle, &token);
        // slack-morphism acknowledges the envelope when this returns: run the click after.
        tokio::spawn(run_click(handler.clone(), click, response_url.clone()));
    }
    Ok(())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackClient<Connector>>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let handler = {
        let state = state.read().await;
        state.get_user_state::<Arc<dyn ClickHandler>>().cloned()
    };
    if let Some(handler) = handler {
        let text = event.text.clone().unwrap_or_default();
        let user_id = event.user_id.to_string();
        let channel = event.channel_id.to_string();
        let trigger = event.trigger_id.to_string();
        if let Some(ask) =
            crate::chat::slack::inbound::pay_of(&text, &user_id, &user_id, Some(&channel), &trigger)
        {
            let response_url = Some(event.response_url.0.to_string());
            tokio::spawn(crate::chat::slack::inbound::run_payment(
                handler,
                ask,
                response_url,
            ));
            return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
        }
        let query = LookupQuery {
            platform: Platform::Slack,
            user_id: event.user_id.to_string(),
            platform_roles: Vec::new(),
            text: event.text.clone().unwrap_or_default(),
            private: true,
        };
        let response_url = Some(event.response_url.0.to_string());
        // slack-morphism acknowledges the envelope when this returns: look up after.
        tokio::spawn(run_lookup(handler, query, response_url));
    }
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new()))
}
