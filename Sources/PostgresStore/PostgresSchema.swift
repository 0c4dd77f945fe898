// PostgresSchema: the frozen migrations of the PostgreSQL store, and with them the documentation of its tables
// (the SQLite store's schema in PostgreSQL's types; `\d+ requests` in psql shows the comments).

// MARK: - Migrations

/// Migrations are frozen once shipped: a change to the schema is a new migration appended to `migrations`,
/// never an edit of a shipped one. They are plain SQL and never reference app types. `migrate` applies the
/// missing ones in one transaction under an advisory lock, so replicas starting together do not race.
enum PostgresSchema {
    /// (id, SQL), in order.
    static let migrations: [(id: String, sql: String)] = [("v1", v1), ("v2", v2), ("v3", v3)]

    /// The key of the advisory lock migrations hold ("proxima" in ASCII).
    static let migrationLock: Int64 = 0x70_72_6f_78_69_6d_61

    /// v1: the SQLite store's v1–v3 in one. Times are BIGINT milliseconds since 1970-01-01 UTC
    /// (`to_timestamp(created_at / 1000.0)` reads them). JSON columns hold the UTF-8 JSON text as written (TEXT, so
    /// that what was stored is what is read). Token-id blobs are little-endian Int32 values, log-prob blobs
    /// little-endian Float32 values, 4 bytes each. `seq` columns keep the order rows were inserted in.
    static let v1 = """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    COMMENT ON TABLE meta IS 'Key-value facts about the database itself; the /ready health check writes the row writable_check.';

    CREATE TABLE policy_versions (
        seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id                TEXT PRIMARY KEY CHECK (id <> ''),
        parent            TEXT REFERENCES policy_versions(id) CHECK (parent <> id),
        created_at        BIGINT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN ('candidate', 'serving', 'retired', 'rejected')),
        adapter_path      TEXT,
        adapter_sha256    TEXT CHECK (adapter_sha256 ~ '^[0-9a-f]{64}$'),
        state_path        TEXT,
        state_sha256      TEXT CHECK (state_sha256 ~ '^[0-9a-f]{64}$'),
        phase_id          BIGINT,
        base_model_sha256 TEXT NOT NULL CHECK (base_model_sha256 ~ '^[0-9a-f]{64}$'),
        metrics           TEXT CHECK (metrics IS NULL OR json_typeof(metrics::json) = 'object'),
        CHECK ((adapter_path IS NULL) = (adapter_sha256 IS NULL)),
        CHECK ((state_path IS NULL) = (state_sha256 IS NULL))
    );
    COMMENT ON TABLE policy_versions IS 'Immutable policy versions: the base model (v0) and every trained or imported candidate.';
    COMMENT ON COLUMN policy_versions.adapter_path IS 'merged LoRA adapter (PEFT safetensors, zlib); NULL for the base';
    COMMENT ON COLUMN policy_versions.state_path IS 'ensemble state (members + optimiser moments) the next phase continues from';
    COMMENT ON COLUMN policy_versions.phase_id IS 'the phase that produced it; NULL for the base and imports';
    CREATE UNIQUE INDEX policy_versions_single_serving ON policy_versions(status) WHERE status = 'serving';

    CREATE TABLE requests (
        seq              BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id               TEXT PRIMARY KEY CHECK (id <> ''),
        pair_id          TEXT UNIQUE CHECK (pair_id <> ''),
        created_at       BIGINT NOT NULL,
        api_key_id       TEXT,
        policy_version   TEXT NOT NULL REFERENCES policy_versions(id),
        messages         TEXT NOT NULL CHECK (json_typeof(messages::json) = 'array'),
        prompt_token_ids BYTEA NOT NULL CHECK (length(prompt_token_ids) % 4 = 0),
        sampling         TEXT NOT NULL CHECK (json_typeof(sampling::json) = 'object'),
        n                INTEGER NOT NULL CHECK (n IN (1, 2)),
        stream           BOOLEAN NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('completed', 'cancelled', 'failed')),
        client_ref       TEXT CHECK (client_ref IS NULL OR octet_length(client_ref) BETWEEN 1 AND 256)
    );
    COMMENT ON TABLE requests IS 'One row per chat completion; id is the response id thumbs refer to, pair_id the one choices refer to.';
    COMMENT ON COLUMN requests.sampling IS '{temperature, top_p, top_k, min_p, max_tokens, seed, stop}: the effective values';
    CREATE INDEX requests_by_client_ref ON requests(client_ref, created_at) WHERE client_ref IS NOT NULL;

    CREATE TABLE samples (
        request_id    TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        sample_index  INTEGER NOT NULL CHECK (sample_index IN (0, 1)),
        token_ids     BYTEA NOT NULL CHECK (length(token_ids) % 4 = 0),
        logprobs      BYTEA NOT NULL,
        text          TEXT NOT NULL,
        finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length', 'cancelled')),
        shown         BOOLEAN NOT NULL,
        PRIMARY KEY (request_id, sample_index),
        CHECK (length(token_ids) = length(logprobs))
    );
    COMMENT ON TABLE samples IS 'The generated responses of a request: sample 0 is shown; sample 1 is the pair''s second (hidden when n = 1).';
    COMMENT ON COLUMN samples.logprobs IS 'behavior log π(token), raw distribution, Float32 LE, one per token';

    CREATE TABLE feedback (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id       TEXT NOT NULL UNIQUE CHECK (event_id <> ''),
        request_id     TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL CHECK (kind IN ('thumb', 'choice')),
        value          TEXT NOT NULL,
        rated_index    INTEGER CHECK (rated_index IN (0, 1)),
        source         TEXT NOT NULL CHECK (source IN ('user', 'simulator', 'import')),
        comment        TEXT,
        created_at     BIGINT NOT NULL,
        api_key_id     TEXT,
        chosen_index   INTEGER CHECK (chosen_index IN (0, 1)),
        rejected_index INTEGER CHECK (rejected_index IN (0, 1)),
        CHECK ((kind = 'thumb' AND value IN ('up', 'down') AND rated_index IS NOT NULL)
            OR (kind = 'choice' AND value IN ('0', '1', 'tie') AND rated_index IS NULL)),
        CHECK (chosen_index IS NULL AND rejected_index IS NULL
            OR chosen_index IS NOT NULL AND rejected_index IS NOT NULL AND chosen_index <> rejected_index),
        CHECK (kind <> 'choice' OR value = 'tie' AND chosen_index IS NULL
            OR value <> 'tie' AND chosen_index IS NOT DISTINCT FROM (CASE value WHEN '0' THEN 0 WHEN '1' THEN 1 END)),
        CHECK (kind <> 'thumb' OR chosen_index IS NULL
            OR value = 'up' AND chosen_index IS NOT DISTINCT FROM rated_index
            OR value = 'down' AND rejected_index IS NOT DISTINCT FROM rated_index)
    );
    COMMENT ON TABLE feedback IS 'Feedback events; the latest (largest id) of a request is the one training uses. chosen/rejected_index: the preference it implies, NULL for a tie or a thumb without a second sample.';
    CREATE INDEX feedback_by_request ON feedback(request_id, id);

    CREATE TABLE phases (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        triggered_by   TEXT NOT NULL CHECK (triggered_by IN ('pairs', 'schedule', 'operator', 'offline')),
        status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'rejected', 'failed', 'cancelled')),
        config         TEXT NOT NULL CHECK (json_typeof(config::json) = 'object'),
        base_version   TEXT NOT NULL REFERENCES policy_versions(id),
        result_version TEXT REFERENCES policy_versions(id),
        pairs_used     INTEGER NOT NULL CHECK (pairs_used >= 0),
        created_at     BIGINT NOT NULL,
        started_at     BIGINT,
        finished_at    BIGINT,
        progress       TEXT CHECK (progress IS NULL OR json_typeof(progress::json) = 'object'),
        metrics        TEXT CHECK (metrics IS NULL OR json_typeof(metrics::json) = 'object'),
        error          TEXT,
        CHECK ((status IN ('succeeded', 'rejected')) = (result_version IS NOT NULL)),
        CHECK ((status IN ('failed', 'cancelled')) = (error IS NOT NULL)),
        CHECK ((status IN ('succeeded', 'rejected', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
        CHECK (status NOT IN ('running', 'succeeded', 'rejected') OR started_at IS NOT NULL),
        CHECK (status <> 'queued' OR started_at IS NULL)
    );
    COMMENT ON TABLE phases IS 'Learner phases: queued → running → succeeded | rejected | failed | cancelled.';
    COMMENT ON COLUMN phases.config IS 'the phase''s settings, in the learner''s flat snake_case keys (loss, beta, steps, …)';
    ALTER TABLE policy_versions ADD FOREIGN KEY (phase_id) REFERENCES phases(id);

    CREATE TABLE phase_pairs (
        phase_id   BIGINT NOT NULL REFERENCES phases(id) ON DELETE CASCADE,
        request_id TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        PRIMARY KEY (phase_id, request_id)
    );
    COMMENT ON TABLE phase_pairs IS 'The labelled pairs and rated responses (requests) each phase took, so later phases select only new ones.';
    CREATE INDEX phase_pairs_by_request ON phase_pairs(request_id);
    """

    /// v2: policy versions' files, shared by processes that do not share a disk (`SharedVersionFiles`): each file
    /// once, named by its sha256, in parts of at most `PostgresProximaStore.filePartBytes` bytes.
    static let v2 = """
    CREATE TABLE version_files (
        sha256     TEXT PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size       BIGINT NOT NULL CHECK (size >= 0),
        parts      INTEGER NOT NULL CHECK (parts >= 0),
        created_at BIGINT NOT NULL
    );
    COMMENT ON TABLE version_files IS 'Files of policy versions (their ensemble state), by sha256, for replicas without a shared disk.';

    CREATE TABLE version_file_parts (
        sha256 TEXT NOT NULL REFERENCES version_files(sha256) ON DELETE CASCADE,
        part   INTEGER NOT NULL CHECK (part >= 0),
        bytes  BYTEA NOT NULL,
        PRIMARY KEY (sha256, part)
    );
    COMMENT ON TABLE version_file_parts IS 'The bytes of a version file, part 0 first.';
    """

    /// v3: the processes serving from this database, as their heartbeats describe them (`/admin/replicas`).
    static let v3 = """
    CREATE TABLE processes (
        id              TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
        role            TEXT NOT NULL CHECK (role IN ('all', 'replica', 'learner')),
        hostname        TEXT NOT NULL,
        pid             INTEGER NOT NULL,
        address         TEXT NOT NULL,
        serving_version TEXT,
        is_learner      BOOLEAN NOT NULL,
        started_at      BIGINT NOT NULL,
        last_seen       BIGINT NOT NULL
    );
    COMMENT ON TABLE processes IS 'One row per running proxima process, rewritten by its heartbeat every few seconds and removed when it stops; rows not seen for a day are forgotten.';
    COMMENT ON COLUMN processes.serving_version IS 'The policy version new requests get in that process.';
    COMMENT ON COLUMN processes.is_learner IS 'Whether the process holds the learner lock (a standby does not).';
    """
}
