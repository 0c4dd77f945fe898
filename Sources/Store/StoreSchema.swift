// StoreSchema: the frozen migrations, and with them the documentation of every table and column
// (the SQL comments are kept by SQLite, so `sqlite3 data/proxima.sqlite .schema` shows them too).

import GRDB

// MARK: - Migrations

/// Migrations are frozen once shipped: a change to the schema is a new migration registered after the
/// others, never an edit of a shipped one. They are plain SQL and never reference app types.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        return migrator
    }

    /// v1: the whole schema. Times are INTEGER milliseconds since 1970-01-01 UTC
    /// (`datetime(created_at / 1000, 'unixepoch')` reads them). Booleans are INTEGER 0 or 1.
    /// JSON columns hold UTF-8 JSON text. Token-id blobs are little-endian Int32 values, log-prob blobs
    /// little-endian Float32 values, 4 bytes each.
    static let v1 = """
    -- Key-value facts about the database itself; the /ready health check writes the row 'writable_check'.
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;

    -- Immutable policy versions: the base model ("v0") and every trained candidate ("v1", "v2", …).
    CREATE TABLE policy_versions (
        id                TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
        parent            TEXT REFERENCES policy_versions(id) CHECK (parent <> id),  -- trained from; NULL for the base
        created_at        INTEGER NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('candidate', 'serving', 'retired', 'rejected')),
        adapter_path      TEXT,     -- merged LoRA adapter (PEFT safetensors, zlib), NULL for the base
        adapter_sha256    TEXT CHECK (length(adapter_sha256) = 64 AND adapter_sha256 NOT GLOB '*[^0-9a-f]*'),
        state_path        TEXT,     -- ensemble state (members + optimiser moments) the next phase continues from
        state_sha256      TEXT CHECK (length(state_sha256) = 64 AND state_sha256 NOT GLOB '*[^0-9a-f]*'),
        phase_id          INTEGER REFERENCES phases(id),  -- the phase that produced it; NULL for the base and imports
        base_model_sha256 TEXT NOT NULL CHECK (length(base_model_sha256) = 64 AND base_model_sha256 NOT GLOB '*[^0-9a-f]*'),
        metrics           TEXT CHECK (metrics IS NULL OR json_valid(metrics) AND json_type(metrics) = 'object'),  -- evaluation numbers
        CHECK ((adapter_path IS NULL) = (adapter_sha256 IS NULL)),
        CHECK ((state_path IS NULL) = (state_sha256 IS NULL))
    ) STRICT;
    -- At most one version serves at a time.
    CREATE UNIQUE INDEX policy_versions_single_serving ON policy_versions(status) WHERE status = 'serving';

    -- One row per chat completion.
    CREATE TABLE requests (
        id               TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),  -- "chatcmpl-…", the response id thumbs refer to
        pair_id          TEXT UNIQUE CHECK (pair_id <> ''),           -- set when two samples were drawn; choices refer to it
        created_at       INTEGER NOT NULL,
        api_key_id       TEXT,                                        -- which configured key asked; NULL without auth
        policy_version   TEXT NOT NULL REFERENCES policy_versions(id), -- served every sample of the request
        messages         TEXT NOT NULL CHECK (json_valid(messages) AND json_type(messages) = 'array'),  -- [{role, content}]
        prompt_token_ids BLOB NOT NULL CHECK (length(prompt_token_ids) % 4 = 0),  -- the rendered prompt, Int32 LE
        sampling         TEXT NOT NULL CHECK (json_valid(sampling) AND json_type(sampling) = 'object'),
                         -- {temperature, top_p, top_k, min_p, max_tokens, seed, stop}: the effective values
        n                INTEGER NOT NULL CHECK (n IN (1, 2)),        -- samples shown to the client
        stream           INTEGER NOT NULL CHECK (stream IN (0, 1)),
        status           TEXT NOT NULL CHECK (status IN ('completed', 'cancelled', 'failed'))
    ) STRICT;

    -- The generated responses of a request: sample 0 is shown; sample 1 is the pair's second sample
    -- (hidden when n = 1, shown when n = 2).
    CREATE TABLE samples (
        request_id    TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        sample_index  INTEGER NOT NULL CHECK (sample_index IN (0, 1)),
        token_ids     BLOB NOT NULL CHECK (length(token_ids) % 4 = 0),  -- generated tokens, Int32 LE
        logprobs      BLOB NOT NULL,  -- behavior log π(token), raw distribution, Float32 LE, one per token
        text          TEXT NOT NULL,
        finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length', 'cancelled')),
        shown         INTEGER NOT NULL CHECK (shown IN (0, 1)),
        PRIMARY KEY (request_id, sample_index),
        CHECK (length(token_ids) = length(logprobs))
    ) STRICT;

    -- Feedback events. Several events may judge one request; the latest (largest id) is the one
    -- training uses. chosen_index/rejected_index is the preference the event implies (Thumbs to pairs):
    -- thumbs-up on sample i: i ≻ other; thumbs-down: other ≻ i; choice c: c ≻ other; NULL for a tie and
    -- for a thumb on a request without a second sample.
    CREATE TABLE feedback (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so the order of arrival
        event_id       TEXT NOT NULL UNIQUE CHECK (event_id <> ''),  -- client idempotency key or a generated "evt-…"
        request_id     TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL CHECK (kind IN ('thumb', 'choice')),
        value          TEXT NOT NULL,     -- thumb: 'up' | 'down'; choice: '0' | '1' | 'tie'
        rated_index    INTEGER CHECK (rated_index IN (0, 1)),  -- the sample a thumb rates; NULL for a choice
        source         TEXT NOT NULL CHECK (source IN ('user', 'simulator', 'import')),
        comment        TEXT,
        created_at     INTEGER NOT NULL,
        api_key_id     TEXT,
        chosen_index   INTEGER CHECK (chosen_index IN (0, 1)),
        rejected_index INTEGER CHECK (rejected_index IN (0, 1)),
        CHECK ((kind = 'thumb' AND value IN ('up', 'down') AND rated_index IS NOT NULL)
            OR (kind = 'choice' AND value IN ('0', '1', 'tie') AND rated_index IS NULL)),
        CHECK (chosen_index IS NULL AND rejected_index IS NULL
            OR chosen_index IS NOT NULL AND rejected_index IS NOT NULL AND chosen_index <> rejected_index),
        CHECK (kind <> 'choice' OR value = 'tie' AND chosen_index IS NULL
            OR value <> 'tie' AND chosen_index IS CAST(value AS INTEGER)),
        CHECK (kind <> 'thumb' OR chosen_index IS NULL
            OR value = 'up' AND chosen_index IS rated_index OR value = 'down' AND rejected_index IS rated_index)
    ) STRICT;
    CREATE INDEX feedback_by_request ON feedback(request_id, id);

    -- Learner phases: queued → running → succeeded | rejected | failed.
    CREATE TABLE phases (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        triggered_by   TEXT NOT NULL CHECK (triggered_by IN ('pairs', 'schedule', 'operator', 'offline')),
        status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'rejected', 'failed')),
        config         TEXT NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
                       -- {loss, beta, steps, lr, batch_size, ensemble_size, rank, reference, …} as the learner wrote it
        base_version   TEXT NOT NULL REFERENCES policy_versions(id),  -- trained from
        result_version TEXT REFERENCES policy_versions(id),  -- the candidate it produced (succeeded or rejected)
        pairs_used     INTEGER NOT NULL CHECK (pairs_used >= 0),  -- rows in phase_pairs
        created_at     INTEGER NOT NULL,
        started_at     INTEGER,
        finished_at    INTEGER,
        progress       TEXT CHECK (progress IS NULL OR json_valid(progress) AND json_type(progress) = 'object'),
                       -- latest report while running: step, loss, reward accuracy and margin, KL estimate, ETA
        metrics        TEXT CHECK (metrics IS NULL OR json_valid(metrics) AND json_type(metrics) = 'object'),  -- final numbers, gate
        error          TEXT,  -- why it failed
        CHECK ((status IN ('succeeded', 'rejected')) = (result_version IS NOT NULL)),
        CHECK ((status = 'failed') = (error IS NOT NULL)),
        CHECK ((status IN ('succeeded', 'rejected', 'failed')) = (finished_at IS NOT NULL)),
        CHECK (status NOT IN ('running', 'succeeded', 'rejected') OR started_at IS NOT NULL),
        CHECK (status <> 'queued' OR started_at IS NULL)
    ) STRICT;

    -- The labelled pairs (requests) each phase took, so later phases select only new ones.
    CREATE TABLE phase_pairs (
        phase_id   INTEGER NOT NULL REFERENCES phases(id) ON DELETE CASCADE,
        request_id TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        PRIMARY KEY (phase_id, request_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX phase_pairs_by_request ON phase_pairs(request_id);
    """

    /// v2: phases can be cancelled by an operator (status 'cancelled', with the reason in `error`). SQLite cannot
    /// change a table's CHECK constraints, so the table is rebuilt (foreign keys are off during migrations and
    /// checked after; phase_pairs refers to the table by name).
    static let v2 = """
    CREATE TABLE phases_v2 (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        triggered_by   TEXT NOT NULL CHECK (triggered_by IN ('pairs', 'schedule', 'operator', 'offline')),
        status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'rejected', 'failed', 'cancelled')),
        config         TEXT NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
                       -- the phase's settings, in the learner's flat snake_case keys (loss, beta, steps, …)
        base_version   TEXT NOT NULL REFERENCES policy_versions(id),  -- trained from
        result_version TEXT REFERENCES policy_versions(id),  -- the candidate it produced (succeeded or rejected)
        pairs_used     INTEGER NOT NULL CHECK (pairs_used >= 0),  -- rows in phase_pairs
        created_at     INTEGER NOT NULL,
        started_at     INTEGER,
        finished_at    INTEGER,
        progress       TEXT CHECK (progress IS NULL OR json_valid(progress) AND json_type(progress) = 'object'),
                       -- latest report while running: step, loss, reward accuracy and margin, KL estimate, ETA
        metrics        TEXT CHECK (metrics IS NULL OR json_valid(metrics) AND json_type(metrics) = 'object'),  -- final numbers, gate
        error          TEXT,  -- why it failed, or who cancelled it
        CHECK ((status IN ('succeeded', 'rejected')) = (result_version IS NOT NULL)),
        CHECK ((status IN ('failed', 'cancelled')) = (error IS NOT NULL)),
        CHECK ((status IN ('succeeded', 'rejected', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
        CHECK (status NOT IN ('running', 'succeeded', 'rejected') OR started_at IS NOT NULL),
        CHECK (status <> 'queued' OR started_at IS NULL)
    ) STRICT;
    INSERT INTO phases_v2 SELECT * FROM phases;
    DROP TABLE phases;
    ALTER TABLE phases_v2 RENAME TO phases;
    """

    /// v3: a request may carry the client's own reference for its response (`proxima.client_ref`, e.g. Open
    /// WebUI's message id), by which the client can rate it (`/v1/feedback` with `client_ref`).
    static let v3 = """
    ALTER TABLE requests ADD COLUMN client_ref TEXT CHECK (client_ref IS NULL OR length(CAST(client_ref AS BLOB)) BETWEEN 1 AND 256);
    CREATE INDEX requests_by_client_ref ON requests(client_ref, created_at) WHERE client_ref IS NOT NULL;
    """
}
