-- Core ledger: intake (many writers), the append-only log, signed checkpoints, rejects.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_writer') THEN
        CREATE ROLE ledger_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_sequencer') THEN
        CREATE ROLE ledger_sequencer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_reader') THEN
        CREATE ROLE ledger_reader NOLOGIN;
    END IF;
END
$$;

-- Writers insert here in autocommit; the receipt is the committed row. event_id is the
-- idempotency key: re-submitting an event stores it once.
CREATE TABLE ledger_intake (
    intake_id   bigserial PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    origin      text        NOT NULL,
    run_id      uuid        NOT NULL,
    run_seq     bigint      NOT NULL CHECK (run_seq >= 0),
    body        bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The log. body holds the exact RFC 8785 bytes that were hashed; every other column except
-- seq and recorded_at is a projection of body that the verifier re-derives and compares.
CREATE TABLE ledger_events (
    origin      text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq >= 0),
    event_id    uuid        NOT NULL,
    run_id      uuid        NOT NULL,
    run_seq     bigint      NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    body        bytea       NOT NULL,
    leaf_hash   bytea       NOT NULL,
    PRIMARY KEY (origin, seq)
);
CREATE UNIQUE INDEX ledger_events_event_id ON ledger_events (event_id);
CREATE UNIQUE INDEX ledger_events_run ON ledger_events (run_id, run_seq);
CREATE INDEX ledger_events_occurred ON ledger_events (origin, occurred_at);
CREATE INDEX ledger_events_type ON ledger_events (origin, type, seq);

-- C2SP signed checkpoints; frontier is the compact range so the sequencer can resume.
CREATE TABLE ledger_checkpoints (
    origin     text        NOT NULL,
    tree_size  bigint      NOT NULL CHECK (tree_size > 0),
    root_hash  bytea       NOT NULL,
    note       text        NOT NULL,
    frontier   bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (origin, tree_size)
);

-- Events the sequencer could not accept (chain conflicts); kept for diagnosis, not hashed.
CREATE TABLE ledger_rejects (
    intake_id   bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    origin      text        NOT NULL,
    body        bytea       NOT NULL,
    reason      text        NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Belt and braces: the cryptography is what catches a superuser; these stop accidents.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

REVOKE ALL ON ledger_intake, ledger_events, ledger_checkpoints, ledger_rejects FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_intake TO ledger_writer;
GRANT USAGE ON SEQUENCE ledger_intake_intake_id_seq TO ledger_writer;
GRANT SELECT (event_id) ON ledger_events TO ledger_writer;
GRANT SELECT, DELETE ON ledger_intake TO ledger_sequencer;
GRANT SELECT, INSERT ON ledger_events, ledger_checkpoints, ledger_rejects TO ledger_sequencer;
GRANT SELECT ON ledger_events, ledger_checkpoints, ledger_rejects TO ledger_reader;
