-- Button tokens: each button of a sent card carries one opaque token, which
-- maps to the action, the delivery (and so the event and its message) and an
-- expiry. A token acts once: `used_at_ms` is set atomically by the click that
-- runs it. `approved_by` holds the first approver when two are required.
CREATE TABLE action_tokens (
    token         TEXT   PRIMARY KEY,
    action        TEXT   NOT NULL,
    label         TEXT   NOT NULL DEFAULT '',
    delivery_id   BIGINT NOT NULL,
    event_seq     BIGINT NOT NULL REFERENCES events (seq),
    receiver      TEXT   NOT NULL,
    object_id     TEXT,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    used_by       TEXT,
    approved_by   TEXT
);

CREATE INDEX action_tokens_by_delivery ON action_tokens (delivery_id);

-- The audit log: who did what to which object, when, and how it ended.
-- Append-only: updates and deletes are refused by the database itself.
CREATE TABLE audit_log (
    id                BIGSERIAL PRIMARY KEY,
    at_ms             BIGINT NOT NULL,
    platform          TEXT   NOT NULL,
    user_id           TEXT   NOT NULL,
    action            TEXT   NOT NULL,
    event_id          TEXT,
    object_id         TEXT,
    outcome           TEXT   NOT NULL,
    detail            TEXT,
    stripe_request_id TEXT
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Private Telegram chats subscribed to a topic with /subscribe.
CREATE TABLE telegram_subscriptions (
    topic         TEXT   NOT NULL,
    chat_id       BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (topic, chat_id)
);

-- Which subscribers a fanned-out delivery already reached.
CREATE TABLE fanout_sends (
    delivery_id BIGINT NOT NULL,
    chat_id     BIGINT NOT NULL,
    outcome     TEXT   NOT NULL,
    PRIMARY KEY (delivery_id, chat_id)
);
