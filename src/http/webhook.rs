//! `POST /webhooks/stripe` and `POST /webhooks/stripe/{account}`: the ingest path.
//!
//! The order is the security argument: find the endpoint, read at most
//! `max_body_bytes`, verify the signature on the raw bytes, and only then
//! parse JSON. The event is committed before the 2xx goes out, and nothing
//! else happens on the request path: routing and delivery run in the
//! background from the store.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::serve::BodyTimeout;
use crate::config::{DEFAULT_ACCOUNT, WebhookEndpoint};
use crate::store::{Inserted, NewEvent};
use crate::stripe::{envelope, signature};

/// The header Stripe signs requests with.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// Why a webhook request was refused, and what the sender is told.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The path names no configured account.
    #[error("unknown account {0:?}: configure it as [stripe.accounts.NAME]")]
    UnknownAccount(String),
    /// The body exceeds `[server] max_body_bytes`.
    #[error("body is larger than the limit of {0} bytes ([server] max_body_bytes)")]
    TooLarge(usize),
    /// The body could not be read.
    #[error("could not read the request body")]
    Unreadable(#[source] axum::Error),
    /// The body did not arrive within `[server] request_body_timeout`.
    #[error(transparent)]
    SlowBody(BodyTimeout),
    /// The signature check failed.
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
    /// Verified, but not a Stripe event.
    #[error(transparent)]
    Envelope(#[from] envelope::EnvelopeError),
    /// The store failed; Stripe will retry.
    #[error("could not store the event; it will be retried")]
    Store(#[source] crate::store::StoreError),
}

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownAccount(_) => StatusCode::NOT_FOUND,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SlowBody(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Unreadable(_) | Self::Signature(_) | Self::Envelope(_) => StatusCode::BAD_REQUEST,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::UnknownAccount(_) => "unknown_account",
            Self::TooLarge(_) => "body_too_large",
            Self::Unreadable(_) => "unreadable_body",
            Self::SlowBody(_) => "slow_body",
            Self::Signature(error) => error.label(),
            Self::Envelope(_) => "not_an_event",
            Self::Store(_) => "store_error",
        }
    }
}

/// `POST /webhooks/stripe`.
pub async fn default_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(state, DEFAULT_ACCOUNT.to_owned(), headers, body).await
}

/// `POST /webhooks/stripe/{account}`.
pub async fn named_account(
    State(state): State<AppState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(state, account, headers, body).await
}

async fn receive(state: AppState, account: String, headers: HeaderMap, body: Body) -> Response {
    let outcome = ingest(&state, &account, &headers, body).await;
    // Only configured names become metric labels.
    let label = if state.config().endpoint(&account).is_some() {
        account.as_str()
    } else {
        "unknown"
    };
    match outcome {
        Ok((event, inserted)) => {
            let (outcome, text) = match inserted {
                Inserted::New { .. } => {
                    state.pipeline_wake.notify_one();
                    ("stored", "stored\n")
                }
                Inserted::Duplicate => ("duplicate", "duplicate: already stored\n"),
            };
            state.metrics.event(label, &event.event_type, outcome);
            state.metrics.event_source("webhook", outcome, 1);
            tracing::info!(account = label, event_id = %event.id, event_type = %event.event_type, outcome, "webhook accepted");
            (StatusCode::OK, text).into_response()
        }
        Err(error) => {
            let status = error.status();
            state.metrics.rejection(
                label,
                error.label(),
                matches!(error, WebhookError::Signature(_)),
            );
            if status.is_server_error() {
                tracing::error!(account = label, error = %crate::telemetry::chain(&error), "webhook failed");
            } else {
                tracing::warn!(account = label, reason = error.label(), error = %error, "webhook refused");
            }
            let mut text = error.to_string();
            text.push('\n');
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response()
        }
    }
}

async fn ingest(
    state: &AppState,
    account: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(envelope::StripeEvent, Inserted), WebhookError> {
    let config = state.config();
    let endpoint = config
        .endpoint(account)
        .ok_or_else(|| WebhookError::UnknownAccount(account.chars().take(64).collect()))?;
    let limit = config.server.max_body_bytes;
    let body = read_limited(headers, body, limit).await?;
    let now = crate::store::now_ms();
    verify(endpoint, headers, &body, now / 1000)?;
    let event = envelope::parse(&body)?;
    let payload = String::from_utf8(body.to_vec())
        .map_err(|_| envelope::EnvelopeError::Invalid("body is not UTF-8"))?;
    let inserted = state
        .store
        .insert_event(NewEvent {
            account: endpoint.account.clone(),
            event_id: event.id.as_str().to_owned(),
            event_type: event.event_type.clone(),
            livemode: event.livemode,
            connect_account: event.connect_account.clone(),
            api_version: event.api_version.clone(),
            created: event.created,
            received_at_ms: now,
            payload,
        })
        .await
        .map_err(WebhookError::Store)?;
    Ok((event, inserted))
}

fn verify(
    endpoint: &WebhookEndpoint,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), WebhookError> {
    let header = match headers.get(SIGNATURE_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| signature::SignatureError::Malformed("header is not ASCII"))?,
        ),
    };
    signature::verify(header, body, &endpoint.secrets, endpoint.tolerance, now)?;
    Ok(())
}

/// The deadline that ended a body read, wherever it sits in the error's causes.
fn body_timeout(error: &(dyn std::error::Error + 'static)) -> Option<BodyTimeout> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(timeout) = error.downcast_ref::<BodyTimeout>() {
            return Some(*timeout);
        }
        cause = error.source();
    }
    None
}

/// Reads the body, refusing early on a declared length over the limit.
async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, WebhookError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(WebhookError::TooLarge(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let source = std::error::Error::source(&error);
        if source.is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            WebhookError::TooLarge(limit)
        } else if let Some(timeout) = body_timeout(&error) {
            WebhookError::SlowBody(timeout)
        } else {
            WebhookError::Unreadable(error)
        }
    })
}
