-- Payment requests from chat (`/stripe pay`, `/pay`, the Slack form): one
-- row per request, keyed by an id derived from the platform's own id of the
-- command (a double submit finds the same row). Each "New link" adds a
-- Checkout Session: `links` counts them, `session_id` and `url` are the
-- newest's. `status`: pending (asked, waiting for the asker's confirmation),
-- creating (a link is being made), open, paid, expired, failed (Stripe
-- refused; the asker may try again), cancelled.
CREATE TABLE payment_requests (
    request_id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    asker TEXT NOT NULL,
    asker_name TEXT NOT NULL,
    receiver TEXT NOT NULL,
    account TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    customer TEXT,
    ttl_secs BIGINT NOT NULL,
    status TEXT NOT NULL,
    links BIGINT NOT NULL DEFAULT 0,
    session_id TEXT,
    url TEXT,
    outcome TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX payment_requests_by_time ON payment_requests (created_at_ms);
