//! The one Stripe API client, for reads (enrichment, catch-up, look-ups)
//! and writes (the button actions).
//!
//! Every request carries the account's secret key, the pinned
//! `Stripe-Version` (`[stripe] api_version`) and, for a connected account,
//! `Stripe-Account`. Requests are paced per key below Stripe's own limit
//! (`[stripe] requests_per_second`: 20/s for test keys, 80/s live), time
//! out after `[stripe] timeout`, and are retried after a 429, a 5xx or a
//! lost connection, but only when a retry cannot do the thing twice: a GET,
//! or a POST that carries an `Idempotency-Key`. The wait is Stripe's
//! `Retry-After` when it sends one, else an exponential backoff with
//! jitter, and `Stripe-Should-Retry: false` stops it. Each answer's
//! `Request-Id` is logged and kept; the key and the query (which may hold
//! an e-mail address) never are. Stripe's error body becomes a readable
//! [`StripeError`].
//!
//! A small typed client on reqwest rather than `async-stripe`: the bot
//! reads a handful of objects as JSON, and the generated crate's hundreds
//! of typed endpoints would add minutes to a cold build on two cores.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::config::stripe::ApiSettings;
use crate::config::{DEFAULT_ACCOUNT, StripeConfig};
use crate::secret::Secret;

/// The longest wait a `Retry-After` may ask for before a retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The first backoff step; each retry doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

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
    /// Stripe's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// Stripe's `Stripe-Should-Retry`, when it sent one.
    pub should_retry: Option<bool>,
}

impl StripeError {
    /// The most specific reason: decline code, then code, then message.
    pub fn reason(&self) -> &str {
        self.decline_code
            .as_deref()
            .or(self.code.as_deref())
            .unwrap_or(&self.message)
    }

    /// Whether Stripe was not reached or could not answer this time: a lost
    /// connection, a timeout, a 429, a 409 lock conflict or a 5xx, unless
    /// Stripe said not to retry.
    pub fn is_transient(&self) -> bool {
        self.should_retry
            .unwrap_or(matches!(self.status, 0 | 409 | 429 | 500 | 502 | 503 | 504))
    }

    /// Whether the object asked for does not exist (or is not visible to the key).
    pub fn is_not_found(&self) -> bool {
        self.status == 404 || self.code.as_deref() == Some("resource_missing")
    }

    /// The error of a request that never reached Stripe.
    fn unreachable(error: &reqwest::Error) -> Self {
        let what = if error.is_timeout() {
            "Stripe did not answer in time".to_owned()
        } else {
            // Never the URL: it is harmless here, but errors stay uniform.
            format!("Stripe unreachable: {}", crate::telemetry::chain(error))
        };
        Self {
            status: 0,
            kind: None,
            code: None,
            decline_code: None,
            message: what,
            request_id: None,
            retry_after: None,
            should_retry: None,
        }
    }
}

/// Whose request it is: the account's key, and the connected account it
/// acts for (Connect), if any.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The secret or restricted key.
    pub key: &'a Secret,
    /// `acct_…` of a connected account, sent as `Stripe-Account`.
    pub connect_account: Option<&'a str>,
}

/// The client. Cheap to clone; clones share the pacing.
#[derive(Clone)]
pub struct StripeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    settings: ApiSettings,
    /// One pace per key, by a fingerprint of the key.
    paces: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    /// Requests sent (each retry counts), for `/metrics` and the benchmarks.
    sent: std::sync::atomic::AtomicU64,
}

impl StripeClient {
    /// A client for the configured API base URL, version and limits.
    pub fn new(config: &StripeConfig) -> Self {
        Self::with_settings(&config.api_base_url, config.api.clone())
    }

    /// A client for `base_url` with `settings`.
    pub fn with_settings(base_url: &str, settings: ApiSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
                    .build()
                    .unwrap_or_default(),
                base_url: base_url.trim_end_matches('/').to_owned(),
                settings,
                paces: Mutex::new(HashMap::new()),
                sent: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// How many requests this client has sent, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `GET {path}` with `query` (`expand[]` entries included as given).
    pub async fn get(
        &self,
        credentials: Credentials<'_>,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<StripeResponse, StripeError> {
        self.send(reqwest::Method::GET, credentials, path, query, None)
            .await
    }

    /// `POST {path}` with form `params` and an `Idempotency-Key`, so that
    /// a retry (ours, or a double click) reaches Stripe as one request.
    pub async fn post(
        &self,
        key: &Secret,
        path: &str,
        params: &[(&str, &str)],
        idempotency_key: &str,
        connect_account: Option<&str>,
    ) -> Result<StripeResponse, StripeError> {
        let credentials = Credentials {
            key,
            connect_account,
        };
        self.send(
            reqwest::Method::POST,
            credentials,
            path,
            params,
            Some(idempotency_key),
        )
        .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        credentials: Credentials<'_>,
        path: &str,
        params: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<StripeResponse, StripeError> {
        // A retry must not do the thing twice.
        let retries = if method == reqwest::Method::GET || idempotency_key.is_some() {
            self.inner.settings.max_retries
        } else {
            0
        };
        let pace = self.pace(credentials.key);
        let mut attempt = 0;
        loop {
            pace.until_ready().await;
            let result = self
                .once(&method, credentials, path, params, idempotency_key)
                .await;
            match result {
                Ok(response) => return Ok(response),
                Err(error) if attempt < retries && error.is_transient() => {
                    let wait = match error.retry_after {
                        Some(wait) => wait.min(MAX_RETRY_AFTER),
                        None => backoff(attempt),
                    };
                    tracing::warn!(method = %method, path, status = error.status, request_id = error.request_id.as_deref().unwrap_or("-"), attempt = attempt + 1, wait_ms = wait.as_millis() as u64, error = %error, "Stripe request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn once(
        &self,
        method: &reqwest::Method,
        credentials: Credentials<'_>,
        path: &str,
        params: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<StripeResponse, StripeError> {
        let url = format!("{}{path}", self.inner.base_url);
        let mut request = self
            .inner
            .http
            .request(method.clone(), url)
            .bearer_auth(credentials.key.expose())
            .header("Stripe-Version", &self.inner.settings.version);
        request = if *method == reqwest::Method::GET {
            request.query(params)
        } else {
            request.form(params)
        };
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(account) = credentials.connect_account {
            request = request.header("Stripe-Account", account);
        }
        self.inner
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|e| StripeError::unreachable(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("request-id");
        let retry_after = header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let should_retry = header("stripe-should-retry").map(|v| v == "true");
        let success = (200..300).contains(&status);
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(error) if success => return Err(StripeError::unreachable(&error)),
            // An error without a JSON body still has its status.
            Err(_) => Value::Null,
        };
        tracing::debug!(method = %method, path, status, request_id = request_id.as_deref().unwrap_or("-"), "Stripe request");
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
            retry_after,
            should_retry,
        })
    }

    /// The pace of a key: `[stripe] requests_per_second`, else 80/s for a
    /// live key and 20/s for a test key.
    fn pace(&self, key: &Secret) -> Arc<DefaultDirectRateLimiter> {
        let fingerprint = hex::encode(&Sha256::digest(key.expose().as_bytes())[..8]);
        let mut paces = self
            .inner
            .paces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        paces
            .entry(fingerprint)
            .or_insert_with(|| {
                let rate = self
                    .inner
                    .settings
                    .requests_per_second
                    .unwrap_or_else(|| default_rate(key.expose()));
                let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
                Arc::new(RateLimiter::direct(Quota::per_second(rate)))
            })
            .clone()
    }
}

/// Requests per second for a key when `[stripe] requests_per_second` is
/// not set: below Stripe's 25/s in test mode and 100/s live.
pub fn default_rate(key: &str) -> u32 {
    if is_live_key(key) { 80 } else { 20 }
}

/// Whether a key acts on live data (`sk_live_…`, `rk_live_…`).
pub fn is_live_key(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("rk_live_")
}

/// The wait before retry `attempt` (from 0) without a `Retry-After`:
/// 0.5 s, 1 s, 2 s, … up to 8 s, each with up to 25 % jitter.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF * 2u32.saturating_pow(attempt.min(4));
    let jitter = rand::random::<f64>() * 0.25;
    base.mul_f64(1.0 + jitter)
}

/// The credentials of an account for an event: its key and the connected
/// account the event came from. `None` when the account has no API key.
pub fn credentials_of<'a>(
    config: &'a StripeConfig,
    account: &str,
    connect_account: Option<&'a str>,
) -> Option<Credentials<'a>> {
    let endpoint = config
        .endpoints
        .get(account)
        .or_else(|| config.endpoints.get(DEFAULT_ACCOUNT))?;
    Some(Credentials {
        key: endpoint.api_key.as_ref()?,
        connect_account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pick_their_default_pace() {
        assert_eq!(default_rate("sk_live_abc"), 80);
        assert_eq!(default_rate("rk_live_abc"), 80);
        assert_eq!(default_rate("sk_test_abc"), 20);
    }

    #[test]
    fn backoff_doubles_and_stays_bounded() {
        assert!(backoff(0) >= Duration::from_millis(500));
        assert!(backoff(0) <= Duration::from_millis(625));
        assert!(backoff(1) >= Duration::from_secs(1));
        assert!(backoff(9) <= Duration::from_secs(10));
    }

    #[test]
    fn transient_errors_follow_stripe_should_retry() {
        let error = |status, should_retry| StripeError {
            status,
            kind: None,
            code: None,
            decline_code: None,
            message: String::new(),
            request_id: None,
            retry_after: None,
            should_retry,
        };
        assert!(error(0, None).is_transient());
        assert!(error(429, None).is_transient());
        assert!(error(503, None).is_transient());
        assert!(!error(402, None).is_transient());
        assert!(!error(404, None).is_transient());
        assert!(!error(500, Some(false)).is_transient());
        assert!(error(400, Some(true)).is_transient());
    }
}
