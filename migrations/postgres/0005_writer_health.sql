-- One row the writer rewrites to prove that the store can still commit
-- (`/readyz` after a failed commit, e.g. a full disk). Each proof writes
-- `ballast` afresh, as large as a large event, so that a disk with room for
-- a small write but not for an event does not count as ready.
CREATE TABLE writer_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at_ms BIGINT NOT NULL,
    ballast TEXT NOT NULL
);
