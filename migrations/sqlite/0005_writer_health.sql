-- One row the writer rewrites to prove that the store can still commit
-- (`/readyz` after a failed commit, e.g. a full disk).
CREATE TABLE writer_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at_ms BIGINT NOT NULL
);
