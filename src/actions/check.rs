//! The checks a click must pass before it may act — a known, unexpired,
//! unrevoked, unused token, and a clicker whose roles allow the action — and the
//! audit line every refusal and outcome leaves.

use crate::chat::Click;
use std::sync::Arc;

use crate::config::{ActionKind, Snapshot};
use crate::store::{ActionToken, AuditEntry, StoreError, now_ms};

use super::{Actions, Checked};

/// What an audit line is about.
pub struct Subject<'a> {
    /// The action name (`unknown` for a token we never issued).
    pub action: &'a str,
    /// The token, when it is ours.
    pub token: Option<&'a ActionToken>,
    /// The event the card is about.
    pub event_id: Option<&'a str>,
}

impl Actions {
    /// Appends one line to the audit log (a failure to do so is logged).
    pub(super) async fn audit(
        &self,
        click: &Click,
        subject: Subject<'_>,
        outcome: &str,
        detail: &str,
        request_id: Option<String>,
    ) {
        let entry = AuditEntry {
            at_ms: now_ms(),
            platform: click.platform.name().to_owned(),
            user_id: click.user_id.clone(),
            action: subject.action.to_owned(),
            event_id: subject.event_id.map(str::to_owned),
            object_id: subject.token.and_then(|t| t.token.object_id.clone()),
            outcome: outcome.to_owned(),
            detail: Some(detail.to_owned()),
            stripe_request_id: request_id,
        };
        if let Err(error) = self.store.append_audit(&entry).await {
            tracing::error!(error = %crate::telemetry::chain(&error), "cannot append to the audit log");
        }
    }

    /// Every check a click must pass before it may act (a denial is
    /// audited). The token's live row is read once, and the event parsed
    /// once, here. `Err` carries the private notice.
    pub(super) async fn check(
        &self,
        snapshot: Arc<Snapshot>,
        click: &Click,
    ) -> Result<Result<Checked, String>, StoreError> {
        let config = &snapshot.config;
        let now = now_ms();
        let Some(live) = self.store.token(&click.token).await? else {
            let subject = Subject {
                action: "unknown",
                token: None,
                event_id: None,
            };
            self.audit(click, subject, "refused", "unknown button token", None)
                .await;
            return Ok(Err(
                "This button is not one of ours (unknown token); nothing was done.".to_owned(),
            ));
        };
        let Some(kind) = ActionKind::parse(&live.token.action) else {
            return Ok(Err("Unknown action; nothing was done.".to_owned()));
        };
        let stored = self.store.event_by_seq(live.token.event_seq).await?;
        let event_id = stored.as_ref().map(|s| s.event.event_id.clone());
        let subject = || Subject {
            action: kind.name(),
            token: Some(&live),
            event_id: event_id.as_deref(),
        };
        if live.token.expires_at_ms <= now {
            self.audit(click, subject(), "refused", "expired button", None)
                .await;
            return Ok(Err(
                "This button has expired; nothing was done. Open the event in Stripe instead."
                    .to_owned(),
            ));
        }
        if let Some(notice) = &live.revoked_notice {
            // The case moved on (paid, voided, closed): nothing is done in Stripe.
            self.audit(
                click,
                subject(),
                "refused",
                "revoked: the case moved on",
                None,
            )
            .await;
            return Ok(Err(notice.clone()));
        }
        if !config.interactions.allows(kind, &click.clicker()) {
            let roles = config.interactions.policy(kind).allowed_roles;
            let needs = if roles.is_empty() {
                "any role".to_owned()
            } else {
                roles.join(" or ")
            };
            self.audit(click, subject(), "denied", &format!("not in {needs}"), None)
                .await;
            return Ok(Err(format!(
                "You are not allowed to {} (it needs {needs}); nothing was done.",
                kind.name().replace('_', " ")
            )));
        }
        if let Some(by) = &live.used_by {
            self.audit(click, subject(), "refused", "already used", None)
                .await;
            return Ok(Err(format!(
                "Already done (by {}); nothing was done again.",
                by.split_once(':').map_or(by.as_str(), |(_, user)| user)
            )));
        }
        let Some(stored) = stored else {
            return Ok(Err(
                "The event is no longer stored; nothing was done.".to_owned()
            ));
        };
        let view = match stored.view() {
            Ok(view) => view,
            Err(error) => return Ok(Err(format!("{error}; nothing was done."))),
        };
        Ok(Ok(Checked {
            snapshot,
            kind,
            live,
            stored,
            view,
        }))
    }
}
