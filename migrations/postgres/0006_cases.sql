-- Living cases: one card per Stripe object and receiver, edited in place.
-- Every id an object is known by (its invoice, payment intent, charges,
-- disputes) points at the one case key they share.
CREATE TABLE case_aliases (
    object_id TEXT PRIMARY KEY,
    case_key  TEXT NOT NULL
);

-- Which events belong to a case, whoever they were routed to (the invoice
-- card takes the decline reason from its charge even when the charge event
-- went nowhere).
CREATE TABLE case_events (
    case_key  TEXT    NOT NULL,
    event_seq BIGINT NOT NULL,
    PRIMARY KEY (case_key, event_seq)
);

-- A delivery knows its case, and what it did to the case's card.
ALTER TABLE deliveries ADD COLUMN case_key TEXT;
ALTER TABLE deliveries ADD COLUMN case_change TEXT;
CREATE INDEX deliveries_by_case ON deliveries (receiver, case_key, id);

-- The card of a case on one receiver: where it lives, which event it shows
-- (the head, by precedence) and who acknowledged or resolved it.
CREATE TABLE cases (
    receiver           TEXT    NOT NULL,
    case_key           TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    head_rank          BIGINT NOT NULL,
    head_attempt       BIGINT NOT NULL,
    head_created       BIGINT NOT NULL,
    head_event_seq     BIGINT NOT NULL,
    head_delivery_id   BIGINT NOT NULL,
    message_ref        TEXT,
    earlier_refs       TEXT    NOT NULL DEFAULT '[]',
    notes              TEXT    NOT NULL DEFAULT '[]',
    card_hash          TEXT,
    acknowledged_by    TEXT,
    acknowledged_at_ms BIGINT,
    resolved_by        TEXT,
    resolved_at_ms     BIGINT,
    events             BIGINT NOT NULL DEFAULT 0,
    opened_at_ms       BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    PRIMARY KEY (receiver, case_key)
);

-- A token of an earlier card of a case is revoked when the case moves on:
-- a click on it does nothing and answers with this notice.
ALTER TABLE action_tokens ADD COLUMN revoked_notice TEXT;

-- Silences: matching events are stored and routed, never posted, until the
-- silence ends or is expired. Shared by every replica through the store.
CREATE TABLE silences (
    id            BIGSERIAL PRIMARY KEY,
    matchers      TEXT    NOT NULL,
    comment       TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL,
    starts_at_ms  BIGINT NOT NULL,
    ends_at_ms    BIGINT NOT NULL,
    expired_at_ms BIGINT
);

CREATE INDEX silences_by_end ON silences (ends_at_ms);

-- A digest on a chat without threads lists every folded event in pages
-- that follow it; how far it got, so that a retry resumes there.
ALTER TABLE digests ADD COLUMN pages_sent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN listed_after BIGINT NOT NULL DEFAULT 0;
