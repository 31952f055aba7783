-- Catch-up and poll mode: per account, the Stripe time from which the
-- next `GET /v1/events` lists again (the start of the last successful run).
CREATE TABLE stripe_cursors (
    account TEXT PRIMARY KEY,
    checked_from BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- A case's card posted without Stripe's details (Stripe was slow or down):
-- since when it waits for them. The delivery worker completes it when
-- Stripe answers, after a restart too; NULL once complete or given up.
ALTER TABLE cases ADD COLUMN awaiting_stripe_ms BIGINT;
