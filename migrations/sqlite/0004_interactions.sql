-- Button tokens: each button of a sent card carries one opaque token, which
-- maps to the action, the delivery (and so the event and its message) and an
-- expiry. A token acts once: `used_at_ms` is set atomically by the click that
-- runs it. `approved_by` holds the first approver when two are required.
CREATE TABLE action_tokens (
    token         TEXT    PRIMARY KEY,
    action        TEXT    NOT NULL,
    label         TEXT    NOT NULL DEFAULT '',
    delivery_id   INTEGER NOT NULL,
    event_seq     INTEGER NOT NULL REFERENCES events (seq),
    receiver      TEXT    NOT NULL,
    object_id     TEXT,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER,
    used_by       TEXT,
    approved_by   TEXT
);

CREATE INDEX action_tokens_by_delivery ON action_tokens (delivery_id);

-- The audit log: who did what to which object, when, and how it ended.
-- Append-only: updates and deletes are refused by the database itself.
CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms             INTEGER NOT NULL,
    platform          TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    action            TEXT    NOT NULL,
    event_id          TEXT,
    object_id         TEXT,
    outcome           TEXT    NOT NULL,
    detail            TEXT,
    stripe_request_id TEXT
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Private Telegram chats subscribed to a topic with /subscribe.
CREATE TABLE telegram_subscriptions (
    topic         TEXT    NOT NULL,
    chat_id       INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, chat_id)
);

-- Which subscribers a fanned-out delivery already reached.
CREATE TABLE fanout_sends (
    delivery_id INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, chat_id)
);
