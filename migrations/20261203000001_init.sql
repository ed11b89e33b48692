-- Taskwright's schema. Migrations are append-only: add a new file, never edit this one.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'runner', 'viewer')),
    created_ms    INTEGER NOT NULL
);

-- Browser sessions; only a hash of the cookie value is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);

CREATE TABLE scripts (
    name                  TEXT PRIMARY KEY,
    type                  TEXT NOT NULL CHECK (type IN ('python', 'bash')),
    script                TEXT NOT NULL,
    dependencies          TEXT,
    extra_file            BLOB,
    extra_file_name       TEXT,
    output_file_extension TEXT,
    disabled              INTEGER NOT NULL DEFAULT 0,
    failure_address       TEXT,
    cron                  TEXT,
    time_zone             TEXT,
    allow_overlap         INTEGER NOT NULL DEFAULT 0,
    timeout_seconds       INTEGER,
    saved_by              TEXT,
    created_ms            INTEGER NOT NULL,
    updated_ms            INTEGER NOT NULL
);

-- seq orders jobs (first in, first out; newest first in lists).
CREATE TABLE jobs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    script_name         TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN
                          ('WAITING', 'RUNNING', 'COMPLETED', 'ERROR', 'CANCELLED', 'SKIPPED')),
    parameters          TEXT,
    submit_user         TEXT,
    trigger             TEXT NOT NULL CHECK (trigger IN ('api', 'ui', 'cron')),
    submitted_ms        INTEGER NOT NULL,
    started_ms          INTEGER,
    finished_ms         INTEGER,
    duration_ms         INTEGER,
    exit_code           INTEGER,
    error               TEXT,
    output_name         TEXT,
    output_size         INTEGER,
    output_content_type TEXT,
    log_bytes           INTEGER NOT NULL DEFAULT 0,
    log_omitted_bytes   INTEGER NOT NULL DEFAULT 0,
    log_lines           INTEGER NOT NULL DEFAULT 0,
    mail_status         TEXT,
    mail_error          TEXT,
    pid                 INTEGER
);
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_script ON jobs (script_name, seq);

-- API tokens. job_id is set for a job's own MOLGENIS_TOKEN, which is deleted when the job ends.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    job_id       TEXT REFERENCES jobs(id) ON DELETE CASCADE,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER
);

-- One row per log line. n counts every line the job printed, so a gap in n
-- is where the middle of an oversized log was left out.
CREATE TABLE job_log (
    job_id  TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    n       INTEGER NOT NULL,
    stream  TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    off     INTEGER NOT NULL,
    text    TEXT NOT NULL,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
