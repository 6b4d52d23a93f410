-- Integrity extensions (issue 3): tlog-tiles style stored subtree hashes, witness cosignatures.
--
-- ledger_tiles: tile (level L, index i) holds the hashes of tree nodes at height 8*L, numbers
-- 256*i .. 256*i+width-1, concatenated (width = length(hashes)/32 <= 256). Level 0 holds leaf
-- hashes. Every stored node is the root of a perfect subtree fully inside the log, so it never
-- changes; the sequencer only extends the right-most (partial) tile of each level, in the same
-- transaction as the events and the checkpoint. Tiles are derived data: proofs built from them
-- are checked by the client against a signed checkpoint, and `ledger verify` ignores them.
CREATE TABLE IF NOT EXISTS ledger_tiles (
    origin text     NOT NULL,
    level  smallint NOT NULL CHECK (level >= 0),
    idx    bigint   NOT NULL CHECK (idx >= 0),
    hashes bytea    NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) BETWEEN 32 AND 8192),
    PRIMARY KEY (origin, level, idx)
);

-- Checkpoint notes carrying witness cosignatures (C2SP tlog-cosignature lines appended).
-- A checkpoint counts as published once a cosigned note for it is stored here.
CREATE TABLE IF NOT EXISTS ledger_cosigned (
    origin     text        NOT NULL,
    tree_size  bigint      NOT NULL CHECK (tree_size > 0),
    note       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (origin, tree_size)
);

REVOKE ALL ON ledger_tiles, ledger_cosigned FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON ledger_tiles TO ledger_sequencer;
GRANT SELECT, INSERT ON ledger_cosigned TO ledger_sequencer;
GRANT SELECT ON ledger_tiles, ledger_cosigned TO ledger_reader;
