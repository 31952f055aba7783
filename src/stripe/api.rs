//! A small Stripe API client for the button actions.
//!
//! POSTs form-encoded requests with the account's secret key, an
//! `Idempotency-Key` (derived by the caller from the action token, so that a
//! double click or a platform's retry reaches Stripe as one request), and
//! `Stripe-Account` for events of a connected account. Stripe's error body
//! becomes a readable [`StripeError`]; the `Request-Id` of every answer is
//! kept for the audit log.

use std::time::Duration;

use serde_json::Value;

use crate::secret::Secret;

/// How long one Stripe call may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What Stripe answered to a successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeResponse {
    /// The object Stripe returned.
    pub object: Value,
    /// Stripe's `Request-Id` header.
    pub request_id: Option<String>,
}

/// Why a Stripe call failed, in words a finance person can read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StripeError {
    /// The HTTP status (0 when Stripe was not reached).
    pub status: u16,
    /// `error.type`, e.g. `card_error`.
    pub kind: Option<String>,
    /// `error.code`, e.g. `card_declined`.
    pub code: Option<String>,
    /// `error.decline_code`, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// A one-line summary: the decline code, code or message.
    pub message: String,
    /// Stripe's `Request-Id` header.
    pub request_id: Option<String>,
}

impl StripeError {
    /// The most specific reason: decline code, then code, then message.
    pub fn reason(&self) -> &str {
        self.decline_code
            .as_deref()
            .or(self.code.as_deref())
            .unwrap_or(&self.message)
    }
}

/// The client.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base_url: String,
}

impl StripeClient {
    /// A client for `base_url` (Stripe's API unless overridden for tests).
    pub fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `POST {path}` with form `params`.
    pub async fn post(
        &self,
        key: &Secret,
        path: &str,
        params: &[(&str, &str)],
        idempotency_key: &str,
        connect_account: Option<&str>,
    ) -> Result<StripeResponse, StripeError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(key.expose())
            .header("Idempotency-Key", idempotency_key)
            .form(params);
        if let Some(account) = connect_account {
            request = request.header("Stripe-Account", account);
        }
        let response = request.send().await.map_err(|e| StripeError {
            status: 0,
            kind: None,
            code: None,
            decline_code: None,
            // Never the URL: it is harmless here, but errors stay uniform.
            message: format!("Stripe unreachable: {}", e.without_url()),
            request_id: None,
        })?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(StripeResponse {
                object: body,
                request_id,
            });
        }
        let error = &body["error"];
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        let (kind, code, decline_code) = (text("type"), text("code"), text("decline_code"));
        let message = match (&decline_code, &code, text("message")) {
            (Some(decline), _, _) => decline.clone(),
            (None, Some(code), _) => code.clone(),
            (None, None, Some(message)) => message,
            (None, None, None) => format!("Stripe answered HTTP {status}"),
        };
        Err(StripeError {
            status,
            kind,
            code,
            decline_code,
            message,
            request_id,
        })
    }
}
