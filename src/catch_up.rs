//! Catch-up and poll mode: events read back from Stripe with
//! `GET /v1/events`, fed through the same dedup and pipeline as webhooks.
//!
//! Stripe retries a webhook for about three days; an event missed for
//! longer (an endpoint down, disabled, or never reachable) is gone unless
//! the bot asks for it. Catch-up asks, per account with an API key, at
//! start and every `[stripe] catch_up_every`: every event created since the
//! start of its last successful run (the newest stored event's time the
//! first time), less `[stripe] catch_up_overlap`, page by page through
//! `has_more`. Each is stored exactly as a webhook would be: an event
//! already stored is a no-op (a read, not a write), a new one is routed and
//! delivered. Poll mode (`[stripe] mode = "poll"`) is the same run every
//! `poll_every`, looking back at most a minute, so that no inbound port is
//! needed for Stripe at all.
//!
//! Events of connected accounts (Connect) are not listed: Stripe lists
//! them per connected account, which the bot does not enumerate.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::config::{LiveConfig, StripeConfig, stripe::StripeMode};
use crate::store::{Inserted, NewEvent, Store, StoreError, now_ms};
use crate::stripe::api::{Credentials, StripeClient, StripeError};
use crate::stripe::envelope;
use crate::telemetry::Metrics;

/// Events per page, Stripe's largest.
const PAGE: &str = "100";

/// The most poll mode looks back before its last poll.
pub const POLL_OVERLAP: Duration = Duration::from_secs(60);

/// Most events one run reads; a run that reaches it stores the newest
/// ones and leaves its cursor where it was, so the next run reads on.
pub const MAX_EVENTS_PER_RUN: usize = 20_000;

/// How events reached the store, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The periodic or on-demand catch-up.
    CatchUp,
    /// Poll mode.
    Poll,
}

impl Source {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::CatchUp => "catch_up",
            Self::Poll => "poll",
        }
    }
}

/// What one run did for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The account name.
    pub account: String,
    /// Listed from this Stripe time, Unix seconds.
    pub since: i64,
    /// Events Stripe listed.
    pub listed: u64,
    /// Of those, events the store did not have.
    pub new: u64,
    /// API requests made (pages).
    pub pages: u64,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    /// No such account, or it has no API key.
    #[error("account {0:?} has no API key: set [stripe] api_key (or the account's own)")]
    NoKey(String),
    /// Stripe refused or failed.
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeError),
    /// A listed event could not be read.
    #[error("Stripe listed an event that is not one: {0}")]
    Envelope(#[from] envelope::EnvelopeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The catch-up service of a process.
pub struct CatchUp {
    live: Arc<LiveConfig>,
    store: Arc<dyn Store>,
    stripe: StripeClient,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl CatchUp {
    /// The service; `wake` is the pipeline's, nudged when events were stored.
    pub fn new(
        live: Arc<LiveConfig>,
        store: Arc<dyn Store>,
        stripe: StripeClient,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            live,
            store,
            stripe,
            metrics,
            wake,
        }
    }

    /// Runs at start and then every `catch_up_every` (or `poll_every` in
    /// poll mode), for every account with a key, until `stop`.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            let config = self.live.get();
            let stripe = &config.stripe;
            let (every, source) = match stripe.mode {
                StripeMode::Poll => (stripe.poll_every, Source::Poll),
                StripeMode::Webhook => (stripe.catch_up_every, Source::CatchUp),
            };
            if every.is_zero() {
                return;
            }
            let accounts: Vec<String> =
                stripe.keyed_accounts().map(|e| e.account.clone()).collect();
            for account in accounts {
                match self.run_account(stripe, &account, None, source).await {
                    Ok(report) if report.new > 0 => {
                        tracing::info!(account = %report.account, since = report.since, listed = report.listed, new = report.new, source = source.label(), "catch-up: missed events stored");
                    }
                    Ok(report) => {
                        tracing::debug!(account = %report.account, listed = report.listed, source = source.label(), "catch-up: nothing missed");
                    }
                    Err(error) => {
                        tracing::warn!(account = %account, source = source.label(), error = %crate::telemetry::chain(&error), "catch-up failed; it runs again at the next interval");
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One run for one account: lists events since `since` (Unix seconds)
    /// or the account's cursor less the overlap, and stores them oldest first.
    pub async fn run_account(
        &self,
        stripe: &StripeConfig,
        account: &str,
        since: Option<i64>,
        source: Source,
    ) -> Result<Report, CatchUpError> {
        let credentials = stripe
            .endpoints
            .get(account)
            .and_then(|e| e.api_key.as_ref())
            .map(|key| Credentials {
                key,
                connect_account: None,
            })
            .ok_or_else(|| CatchUpError::NoKey(account.to_owned()))?;
        let started = now_ms() / 1000;
        // Polling every few seconds looks back a minute at most: Stripe lists
        // an event as soon as it exists, and each poll re-reads its overlap.
        let overlap = match source {
            Source::Poll => stripe.catch_up_overlap.min(POLL_OVERLAP),
            Source::CatchUp => stripe.catch_up_overlap,
        }
        .as_secs() as i64;
        let since = match since {
            Some(since) => since,
            None => match self.store.catch_up_from(account).await? {
                Some(from) => from - overlap,
                // A new install: only what a restart could have missed.
                None => started - overlap,
            },
        };
        let (events, complete, pages) = self.list(credentials, since).await?;
        let mut report = Report {
            account: account.to_owned(),
            since,
            listed: events.len() as u64,
            new: 0,
            pages,
        };
        // Stripe lists newest first; the store gets them in the order they happened.
        for event in events.iter().rev() {
            // An event already stored (the overlap, or its webhook) costs a
            // read, not a write through the store's writer.
            if let Some(id) = event["id"].as_str()
                && self.store.event(account, id).await?.is_some()
            {
                self.metrics.event_source(source.label(), "duplicate", 1);
                continue;
            }
            let payload = event.to_string();
            let parsed = envelope::parse(payload.as_bytes())?;
            let inserted = self
                .store
                .insert_event(NewEvent {
                    account: account.to_owned(),
                    event_id: parsed.id.as_str().to_owned(),
                    event_type: parsed.event_type.clone(),
                    livemode: parsed.livemode,
                    connect_account: parsed.connect_account.clone(),
                    api_version: parsed.api_version.clone(),
                    created: parsed.created,
                    received_at_ms: now_ms(),
                    payload,
                })
                .await?;
            let outcome = match inserted {
                Inserted::New { .. } => {
                    report.new += 1;
                    "stored"
                }
                Inserted::Duplicate => "duplicate",
            };
            self.metrics.event_source(source.label(), outcome, 1);
        }
        if report.new > 0 {
            self.wake.notify_one();
        }
        if complete {
            self.store
                .set_catch_up_cursor(account, started, now_ms())
                .await?;
        } else {
            tracing::warn!(
                account,
                since,
                read = MAX_EVENTS_PER_RUN,
                "catch-up: more events than one run reads; the next run reads on"
            );
        }
        Ok(report)
    }

    /// Every event created at or after `since`, newest first, up to
    /// [`MAX_EVENTS_PER_RUN`]; whether that was all; how many pages.
    async fn list(
        &self,
        credentials: Credentials<'_>,
        since: i64,
    ) -> Result<(Vec<Value>, bool, u64), CatchUpError> {
        let since = since.to_string();
        let mut events: Vec<Value> = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![("created[gte]", since.as_str()), ("limit", PAGE)];
            if let Some(after) = &after {
                query.push(("starting_after", after.as_str()));
            }
            let page = self.stripe.get(credentials, "/v1/events", &query).await?;
            pages += 1;
            let mut object = page.object;
            let data = match object.get_mut("data").map(Value::take) {
                Some(Value::Array(data)) => data,
                _ => Vec::new(),
            };
            let has_more = object["has_more"].as_bool().unwrap_or(false);
            let last = data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_owned);
            events.extend(data);
            if events.len() >= MAX_EVENTS_PER_RUN {
                return Ok((events, false, pages));
            }
            match (has_more, last) {
                (true, Some(last)) if after.as_deref() != Some(last.as_str()) => {
                    after = Some(last);
                }
                _ => return Ok((events, true, pages)),
            }
        }
    }
}

/// Parses `--since` of `stripe-chatops catch-up`: a duration back from now
/// (`2h`, `3d`), or Unix seconds.
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    if let Ok(at) = text.parse::<i64>() {
        return Ok(at);
    }
    humantime::parse_duration(text)
        .map(|back: Duration| now - back.as_secs() as i64)
        .map_err(|e| {
            format!("--since {text:?}: {e}; give a duration such as 2h or 3d, or Unix seconds")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_duration_or_unix_seconds() {
        assert_eq!(parse_since("2h", 10_000), Ok(10_000 - 7_200));
        assert_eq!(parse_since("1700000000", 0), Ok(1_700_000_000));
        assert!(parse_since("yesterday", 0).unwrap_err().contains("--since"));
    }
}
