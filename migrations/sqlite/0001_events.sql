-- Every verified Stripe event, stored once per (account, event id), with its raw payload.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    account        TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    livemode       INTEGER NOT NULL,
    connect_account TEXT,
    api_version    TEXT,
    created        INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    routed_at_ms   INTEGER,
    UNIQUE (account, event_id)
);

CREATE INDEX events_unrouted ON events (seq) WHERE routed_at_ms IS NULL;
