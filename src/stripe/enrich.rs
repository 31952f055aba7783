//! Reads what a card needs from Stripe's API (see `event::enrichment`):
//! the charge, payment intent or invoice of a failed payment, the payment
//! method, the subscription and the customer.
//!
//! Objects are cached with moka (time-to-live `[stripe] cache_ttl`, at most
//! `[stripe] cache_size`), keyed by account, connected account and path,
//! and concurrent reads of one object are coalesced into one request, so a
//! burst of events about one invoice costs one read of it. An error is not
//! cached: the next card asks again, paced by the client. This runs in the
//! delivery worker, never on the webhook request path.

use std::sync::Arc;

use serde_json::Value;

use crate::config::StripeConfig;
use crate::event::EventView;
use crate::event::enrichment::{
    Enrichment, Needs, card_of, failure_of_charge, failure_of_payment_intent, needs,
    payment_of_invoice,
};

use super::api::{Credentials, StripeClient, StripeError, credentials_of};

/// The reader and its cache.
pub struct Enricher {
    client: StripeClient,
    cache: moka::future::Cache<String, Arc<Value>>,
}

impl Enricher {
    /// An enricher reading through `client`, with the cache of `config`.
    pub fn new(client: StripeClient, config: &StripeConfig) -> Self {
        Self {
            client,
            cache: moka::future::Cache::builder()
                .max_capacity(config.enrichment.cache_size)
                .time_to_live(config.enrichment.cache_ttl)
                .build(),
        }
    }

    /// The client it reads through.
    pub fn client(&self) -> &StripeClient {
        &self.client
    }

    /// Whether `view` has anything to read: enrichment is on, the account
    /// has a key, and the event lacks something. Cheap: no request, no copy.
    pub fn wants(config: &StripeConfig, view: &EventView) -> bool {
        config.enrichment.enabled
            && credentials_of(config, &view.account, view.connect_account.as_deref()).is_some()
            && !needs(view).is_empty()
    }

    /// What Stripe's API adds to `view`. `Ok(None)` when enrichment is off,
    /// the account has no key, or the view needs nothing.
    pub async fn enrich(
        &self,
        config: &StripeConfig,
        view: &EventView,
    ) -> Result<Option<Enrichment>, StripeError> {
        if !Self::wants(config, view) {
            return Ok(None);
        }
        let needs = needs(view);
        let Some(credentials) =
            credentials_of(config, &view.account, view.connect_account.as_deref())
        else {
            return Ok(None);
        };
        let scope = format!(
            "{}/{}",
            view.account,
            view.connect_account.as_deref().unwrap_or("-")
        );
        let reader = Reader {
            enricher: self,
            credentials,
            scope: &scope,
        };
        reader.read(&needs).await.map(Some)
    }

    /// One object, from the cache or Stripe (`expand[]` as given).
    pub async fn object(
        &self,
        credentials: Credentials<'_>,
        scope: &str,
        path: &str,
        expand: &[&str],
    ) -> Result<Arc<Value>, StripeError> {
        let key = format!("{scope}{path}?{}", expand.join(","));
        let client = &self.client;
        self.cache
            .try_get_with(key, async move {
                let query: Vec<(&str, &str)> = expand.iter().map(|e| ("expand[]", *e)).collect();
                client
                    .get(credentials, path, &query)
                    .await
                    .map(|response| Arc::new(response.object))
            })
            .await
            .map_err(|error: Arc<StripeError>| (*error).clone())
    }
}

struct Reader<'a> {
    enricher: &'a Enricher,
    credentials: Credentials<'a>,
    scope: &'a str,
}

impl Reader<'_> {
    async fn get(&self, path: &str, expand: &[&str]) -> Result<Arc<Value>, StripeError> {
        self.enricher
            .object(self.credentials, self.scope, path, expand)
            .await
    }

    /// The reads a view needs, at once: the payment, the subscription and
    /// the customer. What answered is kept when another read failed; the
    /// error is returned only when nothing answered.
    async fn read(&self, needs: &Needs) -> Result<Enrichment, StripeError> {
        let payment = async {
            let mut payment = Enrichment::default();
            if needs.payment() {
                self.payment(needs, &mut payment).await?;
            }
            Ok::<_, StripeError>(payment)
        };
        let subscription = async {
            match &needs.subscription {
                Some(id) => self
                    .get(&format!("/v1/subscriptions/{id}"), &[])
                    .await
                    .map(|s| s["status"].as_str().map(str::to_owned)),
                None => Ok(None),
            }
        };
        let customer = async {
            match &needs.customer {
                Some(id) => self
                    .get(&format!("/v1/customers/{id}"), &[])
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let line_items = async {
            match &needs.line_items {
                Some(id) => self
                    .get(&format!("/v1/checkout/sessions/{id}/line_items"), &[])
                    .await
                    .map(|list| crate::event::facts::LineItems::of_list(&list)),
                None => Ok(None),
            }
        };
        let (payment, subscription, customer, line_items) =
            tokio::join!(payment, subscription, customer, line_items);
        let mut failures = Vec::new();
        let mut enrichment = payment.unwrap_or_else(|error| {
            failures.push(error);
            Enrichment::default()
        });
        match subscription {
            Ok(status) => enrichment.subscription_status = status,
            Err(error) => failures.push(error),
        }
        match customer {
            Ok(Some(customer)) => {
                let text = |key: &str| {
                    customer[key]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                enrichment.customer_name = text("name");
                enrichment.customer_email = text("email");
            }
            Ok(None) => {}
            Err(error) => failures.push(error),
        }
        match line_items {
            Ok(items) => enrichment.line_items = items,
            Err(error) => failures.push(error),
        }
        let asked = usize::from(needs.payment())
            + usize::from(needs.subscription.is_some())
            + usize::from(needs.customer.is_some())
            + usize::from(needs.line_items.is_some());
        match failures.into_iter().next() {
            Some(error) if asked <= 1 || enrichment.is_empty() => Err(error),
            Some(error) => {
                tracing::warn!(status = error.status, error = %error, "a card goes out with part of Stripe's details: one read failed");
                Ok(enrichment)
            }
            None => Ok(enrichment),
        }
    }

    /// The failure and card of a payment: its charge, else its payment
    /// intent, else the invoice's payments; the payment method when the
    /// charge does not show the card.
    async fn payment(&self, needs: &Needs, enrichment: &mut Enrichment) -> Result<(), StripeError> {
        let (mut charge, mut intent) = (needs.charge.clone(), needs.payment_intent.clone());
        if let Some(invoice) = &needs.invoice {
            let invoice = self
                .get(&format!("/v1/invoices/{invoice}"), &["payments"])
                .await?;
            (charge, intent) = payment_of_invoice(&invoice);
            enrichment.hosted_invoice_url =
                invoice["hosted_invoice_url"].as_str().map(str::to_owned);
        }
        let mut payment_method = None;
        if charge.is_none()
            && let Some(intent) = &intent
        {
            let intent = self
                .get(&format!("/v1/payment_intents/{intent}"), &[])
                .await?;
            enrichment.failure = failure_of_payment_intent(&intent);
            enrichment.card = card_of(&intent);
            charge = intent["latest_charge"]
                .as_str()
                .or(intent["latest_charge"]["id"].as_str())
                .or(intent["charges"]["data"][0]["id"].as_str())
                .map(str::to_owned);
            payment_method = intent["payment_method"].as_str().map(str::to_owned);
        }
        if let Some(charge) = &charge {
            let charge = self.get(&format!("/v1/charges/{charge}"), &[]).await?;
            if let Some(failure) = failure_of_charge(&charge) {
                // The charge's own reason is the most specific.
                let advice = enrichment
                    .failure
                    .as_ref()
                    .and_then(|f| f.decline_code.clone());
                let mut failure = failure;
                if failure.decline_code.is_none() {
                    failure.decline_code = advice;
                }
                enrichment.failure = Some(failure);
            }
            if let Some(card) = card_of(&charge) {
                enrichment.card = Some(card);
            }
            payment_method =
                payment_method.or_else(|| charge["payment_method"].as_str().map(str::to_owned));
        }
        if enrichment.card.is_none()
            && let Some(method) = payment_method
        {
            let method = self
                .get(&format!("/v1/payment_methods/{method}"), &[])
                .await?;
            enrichment.card = card_of(&method);
        }
        Ok(())
    }
}
