-- Every verified Stripe event, stored once per (account, event id), with its raw payload.
CREATE TABLE events (
    seq             BIGSERIAL PRIMARY KEY,
    account         TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    livemode        BOOLEAN NOT NULL,
    connect_account TEXT,
    api_version     TEXT,
    created         BIGINT  NOT NULL,
    received_at_ms  BIGINT  NOT NULL,
    payload         TEXT    NOT NULL,
    routed_at_ms    BIGINT,
    UNIQUE (account, event_id)
);

CREATE INDEX events_unrouted ON events (seq) WHERE routed_at_ms IS NULL;
