-- Scheduled work: dispute reminders and countdown edits, follow-ups of
-- unpaid money, escalations and summaries. A job runs under the lease of
-- the receiver it posts to, and is claimed with a lease of its own, so two
-- replicas run it once; `job_key` makes scheduling the same job twice a
-- no-op. Finished and cancelled jobs are kept with their outcome.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key        TEXT    NOT NULL UNIQUE,
    kind           TEXT    NOT NULL,
    receiver       TEXT    NOT NULL,
    case_receiver  TEXT,
    case_key       TEXT,
    step           INTEGER NOT NULL DEFAULT 0,
    detail         TEXT    NOT NULL DEFAULT '',
    due_at_ms      INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending',
    lease_owner    TEXT,
    lease_until_ms INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    outcome        TEXT
);

CREATE INDEX jobs_due ON jobs (status, due_at_ms);
CREATE INDEX jobs_by_case ON jobs (case_key, case_receiver);

-- Who a case is assigned to (Take it, Assign…, a hand-off), and since when
-- it is abandoned (no payment after the last follow-up).
ALTER TABLE cases ADD COLUMN assignee TEXT;
ALTER TABLE cases ADD COLUMN abandoned_at_ms INTEGER;

-- Summaries count events by their `created` time. One integer column:
-- appended at its right edge as events arrive, it costs an insert little
-- (an index on (event_type, created) cost ingest about 10 % more CPU).
CREATE INDEX events_by_created ON events (created);
