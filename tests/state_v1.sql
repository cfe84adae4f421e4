-- The state.db schema Vellum made before its tables had revisions (PRAGMA user_version = 1).

CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    previous_hash TEXT,
    previous_expires_at TEXT,
    scopes TEXT NOT NULL,
    expires_at TEXT,
    allowed_ips TEXT NOT NULL DEFAULT '[]',
    usage_limit INTEGER,
    rate_limit TEXT,
    connections INTEGER,
    bandwidth TEXT,
    request_count INTEGER NOT NULL DEFAULT 0,
    last_used_at TEXT,
    last_ip TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS key_activity (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    at TEXT NOT NULL,
    ip TEXT,
    method TEXT,
    path TEXT,
    status INTEGER
);
CREATE INDEX IF NOT EXISTS key_activity_by_key ON key_activity (key_id, id);
CREATE TABLE IF NOT EXISTS revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_clients (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    scopes TEXT NOT NULL,
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    grants TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    redirect_uri TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    access_jti TEXT,
    access_expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    access_jti TEXT,
    access_expires_at INTEGER
);
-- Live: the event outbox, the processed-commit cursor, webhooks and their deliveries.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    model TEXT,
    key TEXT,
    draft INTEGER NOT NULL DEFAULT 0,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    models TEXT,
    secret TEXT,
    retry TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    endpoint TEXT NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq),
    key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    PRIMARY KEY (endpoint, seq)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_by_key ON deliveries (endpoint, key, seq);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    at TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER,
    error TEXT,
    response TEXT
);
CREATE INDEX IF NOT EXISTS delivery_attempts_by_endpoint ON delivery_attempts (endpoint, id);
-- Failed password checks per user name (known or not), while they count for a lockout.
CREATE TABLE IF NOT EXISTS sign_in_failures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    at REAL NOT NULL,
    ip TEXT
);
CREATE INDEX IF NOT EXISTS sign_in_failures_by_name ON sign_in_failures (name, at);
CREATE INDEX IF NOT EXISTS sign_in_failures_by_time ON sign_in_failures (at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
