-- Catch-up and poll mode: per account, the Stripe time from which the
-- next `GET /v1/events` lists again (the start of the last successful run).
CREATE TABLE stripe_cursors (
    account TEXT PRIMARY KEY,
    checked_from BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
