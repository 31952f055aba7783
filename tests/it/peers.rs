//! Against real third-party peers: telegram-test-api (an emulated Telegram
//! Bot API) and Prism validating every Discord request against Discord's
//! official OpenAPI spec. See `../shared/PEERS.md`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;
use stripe_chatops::chat::{Chat, Outbound, SendError, render as payload};
use stripe_chatops::config::{Destination, DiscordConfig, DiscordTarget, Secret};
use stripe_chatops::platform::Platform;

use crate::support::peers;
use crate::support::*;

#[tokio::test]
async fn telegram_test_api_receives_the_card_with_its_keyboard() {
    if !peers::installed() {
        return;
    }
    let peer = peers::telegram_test_api().await;
    let token = "424242:peer-test-token";
    let config = format!(
        r#"
[telegram]
bot_token = "{token}"
api_base_url = "{}"
[[receivers]]
name = "private"
telegram = {{ chat_id = 4242 }}
[route]
receiver = "private"
"#,
        peer.base_url()
    );
    let app = start_app(TestDatabase::create(Backend::Sqlite).await, &config).await;
    let failed = event("invoice.payment_failed");
    assert_eq!(
        app.post_event("/webhooks/stripe", &failed, SECRET).await.0,
        200
    );
    eventually(20, "sent to telegram-test-api", || async {
        let counts = app.state.store.outbox_counts().await.unwrap();
        (counts.sent == 1).then_some(())
    })
    .await;

    // The emulator's client side sees what the bot sent.
    let updates: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/getUpdates", peer.base_url()))
        .json(&json!({ "token": token, "chatId": 4242 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = updates["result"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{updates}");
    let message = &messages[0]["message"];
    assert_eq!(message["parse_mode"], json!("HTML"));
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains(failed["id"].as_str().unwrap())
    );
    let keyboard = message["reply_markup"]["inline_keyboard"]
        .as_array()
        .expect("inline keyboard");
    assert!(!keyboard.is_empty());
    for button in keyboard.iter().flat_map(|row| row.as_array().unwrap()) {
        if let Some(data) = button["callback_data"].as_str() {
            assert!(!data.is_empty() && data.len() <= 64);
        }
    }
    app.stop().await;
}

/// What the path-rewriting proxy saw: Prism's status for each request.
type Seen = Arc<Mutex<Vec<(String, u16)>>>;

/// Prism serves Discord's routes at the root; serenity calls `/api/v10/…`.
/// This loopback proxy strips the prefix and records Prism's answers.
async fn strip_api_prefix(
    State((prism, seen)): State<(String, Seen)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = path.strip_prefix("/api/v10").unwrap_or(path);
    let mut request = reqwest::Client::new()
        .request(method, format!("{prism}{path}"))
        .body(body);
    for name in ["authorization", "content-type"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    seen.lock().unwrap().push((path.to_owned(), status));
    (
        StatusCode::from_u16(status).unwrap(),
        response.bytes().await.unwrap(),
    )
}

#[tokio::test]
async fn prism_accepts_every_card_under_discords_openapi_spec() {
    if !peers::installed() {
        return;
    }
    let prism = peers::prism_discord().await;
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .fallback(strip_api_prefix)
        .with_state((prism.base_url(), seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let discord = stripe_chatops::chat::discord::Discord::new(&DiscordConfig {
        bot_token: Some(Secret::new("peer-test-token")),
        api_base_url: format!("http://{proxy}"),
        public_key: None,
        gateway: false,
    });
    let destination = Destination::Discord(DiscordTarget {
        channel_id: "123456789012345678".into(),
    });
    let templates = stripe_chatops::render::Templates::new(None);
    let types = stripe_chatops::stripe::sample::SAMPLE_TYPES;
    for (i, event_type) in types.iter().enumerate() {
        let view = stripe_chatops::event::EventView::parse(&event(event_type), "default").unwrap();
        let card = stripe_chatops::render::card_for(
            &templates,
            &view,
            &Default::default(),
            None,
            "Acme",
            now(),
        )
        .unwrap();
        let message = Outbound {
            payload: payload(Platform::Discord, &card),
            card: &card,
            idempotency_key: format!("peer{i}"),
            reply_to: None,
            linked: false,
        };
        // Prism's dynamic answers are random data; the request is what is checked.
        let _ = discord.post(&destination, &message).await;
    }
    // A case's history line in the card's thread, a card that links an
    // earlier one (a reply), and a page of a listed digest.
    let earlier = stripe_chatops::chat::MessageRef::new(&serde_json::json!({
        "platform": "discord", "channel_id": "123456789012345678", "message_id": "223456789012345678"
    }));
    let history = stripe_chatops::render::states::history(
        &["Paid · `invoice.paid` · $49.00 USD · Nov 30, 14:02 UTC · evt_1".to_owned()],
        "in_1",
    );
    let page = stripe_chatops::render::digest::page_card(
        7,
        1,
        3,
        &["evt_1 · charge.succeeded · $49.00 USD · https://dashboard.stripe.com/test/payments/ch_1".to_owned()],
    );
    for (i, (card, linked)) in [(&history, false), (&history, true), (&page, false)]
        .into_iter()
        .enumerate()
    {
        let message = Outbound {
            payload: payload(Platform::Discord, card),
            card,
            idempotency_key: format!("peer-extra{i}"),
            reply_to: (i < 2).then(|| earlier.clone()),
            linked,
        };
        let _ = discord.post(&destination, &message).await;
    }
    // The `/stripe` command as registered, and a look-up's private answer
    // (the deferred reply edited into the card, or into a sentence).
    let http = reqwest::Client::new();
    let api = format!("http://{proxy}/api/v10");
    let _ = http
        .post(format!("{api}/applications/1200000000000000001/commands"))
        .header("authorization", "Bot peer-test-token")
        .json(&stripe_chatops::chat::discord::inbound::command_definition())
        .send()
        .await;
    let view = stripe_chatops::event::EventView::parse(&event("invoice.payment_failed"), "default")
        .unwrap();
    let card = stripe_chatops::render::card_for(
        &templates,
        &view,
        &Default::default(),
        None,
        "Acme",
        now(),
    )
    .unwrap();
    for answer in [
        stripe_chatops::chat::LookupAnswer::Card(Box::new(card)),
        stripe_chatops::chat::LookupAnswer::Text("There is no such invoice in Stripe.".into()),
    ] {
        let _ = http
            .patch(format!(
                "{api}/webhooks/1200000000000000001/itoken/messages/@original"
            ))
            .json(&stripe_chatops::chat::discord::inbound::lookup_body(
                &answer,
            ))
            .send()
            .await;
    }
    // A payment request: its private question (the deferred reply edited
    // into it), and its "Payment requested" card in the channel.
    let config = stripe_chatops::config::load_str(
        "[stripe]\nwebhook_secrets = [\"whsec_0123456789abcdef\"]\n[discord]\nbot_token = \"peer-test-token\"\n[[receivers]]\nname = \"support\"\ndiscord = { channel_id = \"123456789012345678\" }\n[route]\nreceiver = \"support\"\n",
        &stripe_chatops::config::Environment::fixed([]),
    )
    .unwrap();
    let request = stripe_chatops::store::PaymentRequest {
        request_id: "req_0123456789abcdef01234567".into(),
        platform: "discord".into(),
        asker: "discord:42".into(),
        asker_name: "@alice".into(),
        receiver: "support".into(),
        account: "default".into(),
        amount_minor: 5000,
        currency: "jpy".into(),
        description: "Room 12".into(),
        customer: Some("jenny@example.com".into()),
        ttl_secs: 86_400,
        status: "pending".into(),
        links: 0,
        session_id: None,
        url: None,
        outcome: None,
        created_at_ms: 0,
        updated_at_ms: 0,
    };
    let question = stripe_chatops::actions::payment::question(&config, &request, "sk_test_x");
    let _ = http
        .patch(format!(
            "{api}/webhooks/1200000000000000001/ptoken/messages/@original"
        ))
        .json(&stripe_chatops::chat::discord::inbound::lookup_body(
            &stripe_chatops::chat::LookupAnswer::Card(Box::new(question)),
        ))
        .send()
        .await;
    let session = json!({
        "id": "cs_test_peer1", "object": "checkout.session", "amount_total": 5000, "currency": "jpy",
        "url": "https://checkout.stripe.com/c/pay/cs_test_peer1", "expires_at": now() + 86_000,
        "customer_email": "jenny@example.com", "status": "open", "payment_status": "unpaid", "mode": "payment",
        "livemode": false, "metadata": { "stripe_chatops_request": request.request_id, "stripe_chatops_link": "1",
            "stripe_chatops_receiver": "support", "stripe_chatops_asked_by": "@alice", "stripe_chatops_for": "Room 12" }
    });
    let requested = stripe_chatops::actions::payment::link_event(&request, 1, &session);
    let view = stripe_chatops::event::EventView::from_payload(
        &requested.payload,
        &requested.event_id,
        "default",
    )
    .unwrap();
    let card = stripe_chatops::render::card_for(
        &templates,
        &view,
        &Default::default(),
        None,
        "Acme",
        now(),
    )
    .unwrap();
    assert!(
        card.title.starts_with("💳 Payment requested"),
        "{}",
        card.title
    );
    let message = Outbound {
        payload: payload(Platform::Discord, &card),
        card: &card,
        idempotency_key: "peer-request".into(),
        reply_to: None,
        linked: false,
    };
    let _ = discord.post(&destination, &message).await;
    let statuses = seen.lock().unwrap().clone();
    assert_eq!(statuses.len(), types.len() + 8);
    for ((path, status), event_type) in statuses.iter().zip(types.iter().chain(&[
        "history",
        "linked",
        "digest page",
        "/stripe command",
        "look-up card",
        "look-up sentence",
        "payment request question",
        "payment requested card",
    ])) {
        assert_eq!(*status, 200, "{event_type}: Prism refused {path}");
    }

    // The control: a button label over Discord's 80 characters is refused by the spec.
    let card = stripe_chatops::render::Card::parse("title: x\nseverity: info\nfooter: f").unwrap();
    let mut bad = payload(Platform::Discord, &card);
    bad["components"] = json!([{ "type": 1, "components": [{ "type": 2, "style": 1, "label": "x".repeat(81), "custom_id": "a" }] }]);
    let message = Outbound {
        payload: bad,
        card: &card,
        idempotency_key: "bad".into(),
        reply_to: None,
        linked: false,
    };
    let refused = discord.post(&destination, &message).await;
    assert!(
        matches!(refused, Err(SendError::Permanent(_))),
        "{refused:?}"
    );
    assert_eq!(seen.lock().unwrap().last().unwrap().1, 422);
}

/// One full loop through real peers: a card with an inline keyboard on
/// telegram-test-api, a press, the callback through `getUpdates`, the
/// two-step confirmation, a Stripe call to localstripe, and the message edited.
#[tokio::test]
async fn telegram_test_api_press_retries_the_invoice_on_localstripe() {
    if !peers::installed() || !peers::python_installed() {
        return;
    }
    let telegram = peers::telegram_test_api().await;
    let stripe = peers::localstripe().await;
    let key = "sk_test_peer_0123456789";
    let http = reqwest::Client::new();
    let invoice_id = failing_subscription(&stripe.base_url(), key, "usd").await;
    let invoice_url = format!("{}/v1/invoices/{invoice_id}", stripe.base_url());
    let get_invoice = || {
        let request = http.get(&invoice_url).basic_auth(key, Some(""));
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let invoice = get_invoice().await;
    let intent_before = invoice["payment_intent"].clone();

    let token = "424243:peer-loop-token";
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{{url}}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{key}"
api_base_url = "{stripe}"
[telegram]
bot_token = "{token}"
api_base_url = "{telegram}"
[roles.finance]
telegram_users = [42]
[[receivers]]
name = "alice"
telegram = {{ chat_id = 42 }}
[route]
receiver = "alice"
"#,
        stripe = stripe.base_url(),
        telegram = telegram.base_url(),
    );
    let database = TestDatabase::create(Backend::Sqlite).await;
    let config = config.replace("{url}", &database.url);
    let app = start_app_with_config(database, &config).await;
    let event = json!({
        "id": "evt_1PeerLoop000000000000000", "object": "event", "type": "invoice.payment_failed",
        "api_version": "2024-06-20", "created": now(), "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "data": { "object": invoice }
    });
    assert_eq!(
        app.post_event("/webhooks/stripe", &event, SECRET).await.0,
        200
    );

    let history = || {
        let http = http.clone();
        let url = format!("{}/getUpdatesHistory", telegram.base_url());
        async move {
            let history: serde_json::Value = http
                .post(url)
                .json(&json!({ "token": token }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            history["result"].as_array().cloned().unwrap_or_default()
        }
    };
    let button = |message: &serde_json::Value, prefix: &str| -> Option<(i64, String)> {
        let id = message["messageId"].as_i64()?;
        message["message"]["reply_markup"]["inline_keyboard"]
            .as_array()?
            .iter()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .find(|b| b["text"].as_str().is_some_and(|t| t.starts_with(prefix)))
            .and_then(|b| Some((id, b["callback_data"].as_str()?.to_owned())))
    };
    let press = |message_id: i64, data: String| {
        let http = http.clone();
        let url = format!("{}/sendCallback", telegram.base_url());
        async move {
            let body = json!({
                "botToken": token,
                "from": { "id": 42, "is_bot": false, "first_name": "Alice", "username": "alice" },
                "message": { "message_id": message_id, "chat": { "id": 42, "type": "private", "first_name": "Alice" } },
                "data": data
            });
            assert!(
                http.post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            );
        }
    };

    let (message_id, retry) = eventually(30, "the card with its keyboard", || async {
        history()
            .await
            .iter()
            .find_map(|m| button(m, "Retry payment"))
    })
    .await;
    press(message_id, retry.clone()).await;
    let (_, confirm) = eventually(30, "the confirmation", || async {
        history()
            .await
            .iter()
            .find_map(|m| button(m, "Retry payment").filter(|(_, d)| d.starts_with("c:")))
    })
    .await;
    assert_eq!(confirm, format!("c:{retry}"));
    press(message_id, confirm).await;
    let edited = eventually(30, "the card edited with the outcome", || async {
        history().await.into_iter().find(|m| {
            m["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("Retried by @alice"))
        })
    })
    .await;
    let text = edited["message"]["text"].as_str().unwrap();
    assert!(!text.contains("jenny.rosen@example.com"));
    let after = get_invoice().await;
    // localstripe makes a new PaymentIntent for each `POST /v1/invoices/{id}/pay`.
    assert_ne!(
        after["payment_intent"], intent_before,
        "localstripe was asked to pay"
    );
    assert!(text.contains("Retried by @alice"), "{text}");
    let audit = app.state.store.audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.platform == "telegram" && a.action == "retry_payment" && a.user_id == "42")
    );
    app.stop().await;
}

/// localstripe sends its own signed webhooks to the bot: a subscription
/// whose SEPA debit fails gives a "Payment failed" card whose reason and
/// account digits were read back from localstripe (its invoices carry
/// neither), and the card's Retry asks localstripe to pay again.
#[tokio::test]
async fn localstripe_webhooks_give_the_failure_card_its_reason_and_last4() {
    if !peers::python_installed() {
        return;
    }
    let stripe = peers::localstripe().await;
    let slack = crate::support::fakes::slack().await;
    slack
        .state
        .unlimited
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let key = "sk_test_peer_0123456789";
    let signing = "slack-signing-secret-0123";
    let database = TestDatabase::create(Backend::Sqlite).await;
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[storage]
url = "{url}"
[stripe]
webhook_secrets = ["{SECRET}"]
api_key = "{key}"
api_base_url = "{stripe}"
catch_up_every = "0s"
[slack]
bot_token = "{token}"
api_base_url = "{slack}/api"
signing_secret = "{signing}"
[roles.finance]
slack_users = ["U_ALICE"]
[[receivers]]
name = "finance"
slack = {{ channel = "C0PEER" }}
[route]
receiver = "none"
[[route.routes]]
event_types = ["invoice.payment_failed"]
receiver = "finance"
"#,
        url = database.url,
        stripe = stripe.base_url(),
        slack = slack.base_url(),
        token = crate::support::fakes::SLACK_TOKEN,
    );
    let app = start_app_with_config(database, &config).await;
    let http = reqwest::Client::new();
    // localstripe signs its webhooks with this secret, to the bot's endpoint.
    let configured = http
        .post(format!("{}/_config/webhooks/bot", stripe.base_url()))
        .form(&[
            ("url", app.url("/webhooks/stripe")),
            ("secret", SECRET.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(configured.status().is_success());
    let invoice_id = failing_subscription(&stripe.base_url(), key, "eur").await;
    let card = eventually(
        30,
        "the failure card from localstripe's webhook",
        || async { slack.state.posts("chat.postMessage").into_iter().next() },
    )
    .await;
    let text = card.body.to_string();
    assert!(text.contains(&invoice_id), "{text}");
    assert!(
        text.contains("card_declined: Your card was declined."),
        "{text}"
    );
    assert!(text.contains("SEPA Debit ••3001"), "{text}");
    assert!(!text.contains("jenny.rosen@example.com"), "{text}");
    let retry = card.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["text"]["text"] == "Retry payment")
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .expect("a Retry payment button");
    let invoice_url = format!("{}/v1/invoices/{invoice_id}", stripe.base_url());
    let intent = || {
        let request = http.get(&invoice_url).basic_auth(key, Some(""));
        async move {
            let invoice: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            invoice["payment_intent"].clone()
        }
    };
    let before = intent().await;
    assert_eq!(
        app.slack_click(&slack.base_url(), signing, "U_ALICE", &retry)
            .await,
        200
    );
    eventually(30, "localstripe asked to pay again", || async {
        (intent().await != before).then_some(())
    })
    .await;
    app.stop().await;
}

/// A customer whose SEPA debit fails (localstripe's failing IBAN),
/// subscribed to a monthly plan of 49.00 in `currency`: localstripe makes an
/// open invoice whose payment failed. Returns the invoice's id.
async fn failing_subscription(stripe: &str, key: &str, currency: &str) -> String {
    let http = reqwest::Client::new();
    let form = |path: &str, params: Vec<(&str, String)>| {
        let request = http
            .post(format!("{stripe}{path}"))
            .basic_auth(key, Some(""))
            .form(&params);
        let path = path.to_owned();
        async move {
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default()
        }
    };
    let customer = form(
        "/v1/customers",
        vec![("email", "jenny.rosen@example.com".into())],
    )
    .await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let method = form(
        "/v1/payment_methods",
        vec![
            ("type", "sepa_debit".into()),
            ("sepa_debit[iban]", "DE62370400440532013001".into()),
        ],
    )
    .await;
    let method = method["id"].as_str().unwrap().to_owned();
    form(
        &format!("/v1/payment_methods/{method}/attach"),
        vec![("customer", customer.clone())],
    )
    .await;
    form(
        &format!("/v1/customers/{customer}"),
        vec![("invoice_settings[default_payment_method]", method)],
    )
    .await;
    let product = form("/v1/products", vec![("name", "Pro".into())]).await;
    let plan = form(
        "/v1/plans",
        vec![
            ("product", product["id"].as_str().unwrap().into()),
            ("amount", "4900".into()),
            ("currency", currency.into()),
            ("interval", "month".into()),
        ],
    )
    .await;
    let subscription = form(
        "/v1/subscriptions",
        vec![
            ("customer", customer),
            ("items[0][plan]", plan["id"].as_str().unwrap().into()),
        ],
    )
    .await;
    subscription["latest_invoice"].as_str().unwrap().to_owned()
}
