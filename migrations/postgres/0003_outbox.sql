-- The outbox: each delivery becomes a message to send, in order per receiver
-- (each receiver has one chat destination), with retries, dead letters and
-- the platform's reference to the message it posted. Digests fold a
-- receiver's backlog; a lease says which process sends for a receiver.
ALTER TABLE deliveries ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN first_attempt_at_ms BIGINT;
ALTER TABLE deliveries ADD COLUMN next_attempt_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN last_error TEXT;
ALTER TABLE deliveries ADD COLUMN message_ref TEXT;
ALTER TABLE deliveries ADD COLUMN sent_at_ms BIGINT;
ALTER TABLE deliveries ADD COLUMN digest_id BIGINT;

CREATE INDEX deliveries_by_receiver ON deliveries (receiver, status, id);

CREATE TABLE digests (
    id                  BIGSERIAL PRIMARY KEY,
    receiver            TEXT    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending',
    item_count          BIGINT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    first_attempt_at_ms BIGINT,
    next_attempt_at_ms  BIGINT NOT NULL DEFAULT 0,
    last_error          TEXT,
    message_ref         TEXT,
    sent_at_ms          BIGINT,
    created_at_ms       BIGINT NOT NULL
);

CREATE INDEX digests_by_receiver ON digests (receiver, status, id);

CREATE TABLE receiver_leases (
    receiver      TEXT    PRIMARY KEY,
    owner         TEXT    NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
