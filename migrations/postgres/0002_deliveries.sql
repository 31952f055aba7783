-- One pending delivery per (event, receiver), written when the pipeline routes an event.
CREATE TABLE deliveries (
    id            BIGSERIAL PRIMARY KEY,
    event_seq     BIGINT NOT NULL REFERENCES events (seq),
    receiver      TEXT   NOT NULL,
    route         TEXT   NOT NULL,
    status        TEXT   NOT NULL DEFAULT 'pending',
    created_at_ms BIGINT NOT NULL,
    UNIQUE (event_seq, receiver)
);

CREATE INDEX deliveries_by_status ON deliveries (status, id);
