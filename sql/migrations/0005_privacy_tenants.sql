-- Privacy (DESIGN §6) and tenant isolation (issue 3, items 6 and 7).
--
-- Sensitive fields enter the hashed body only as salted commitments; their content (salt + value)
-- lives here, encrypted with a per-(tenant, subject) key. Neither table is append-only: erasure
-- deletes the subject's key row (crypto-shredding) and its payload rows, and logs a signed
-- `redaction` event. The verifier reports each committed field as verified, redacted
-- (a redaction event covers it) or missing (alarm).
CREATE TABLE IF NOT EXISTS ledger_subject_keys (
    origin     text        NOT NULL,
    subject    text        NOT NULL,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (origin, subject)
);

CREATE TABLE IF NOT EXISTS ledger_payloads (
    commitment text        PRIMARY KEY CHECK (commitment ~ '^sha256:[0-9a-f]{64}$'),
    origin     text        NOT NULL,
    subject    text        NOT NULL,
    event_id   uuid        NOT NULL,
    path       text        NOT NULL,
    ciphertext bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS ledger_payloads_subject ON ledger_payloads (origin, subject);

REVOKE ALL ON ledger_subject_keys, ledger_payloads FROM PUBLIC;
GRANT SELECT, INSERT ON ledger_subject_keys, ledger_payloads TO ledger_writer;
GRANT SELECT ON ledger_payloads TO ledger_reader;

-- Tenant isolation. A reader role sees only the tenants mapped to it in ledger_tenant_roles,
-- which only the owner can change (a reader cannot widen its own view, unlike a GUC such as
-- current_setting('ledger.tenant') that any session may SET). Tenant '*' means every tenant.
-- While the mapping table is empty (single-tenant installs) readers see everything; once any
-- reader is mapped, an unmapped reader sees nothing (fail closed). Table owners and superusers
-- bypass RLS, so the sequencer and migrations are unaffected; writer/sequencer roles get
-- explicit allow-all policies.
CREATE TABLE IF NOT EXISTS ledger_tenant_roles (
    role_name name NOT NULL,
    tenant    text NOT NULL,
    PRIMARY KEY (role_name, tenant)
);
REVOKE ALL ON ledger_tenant_roles FROM PUBLIC;

CREATE OR REPLACE FUNCTION ledger_visible_origin(o text, r name) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT NOT EXISTS (SELECT 1 FROM public.ledger_tenant_roles)
        OR EXISTS (
            SELECT 1 FROM public.ledger_tenant_roles m
            WHERE m.role_name = r
              AND (m.tenant = '*' OR right(o, length(m.tenant) + 1) = '/' || m.tenant)
        )
$$;
REVOKE ALL ON FUNCTION ledger_visible_origin(text, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_visible_origin(text, name) TO ledger_reader;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ledger_events', 'ledger_checkpoints', 'ledger_tiles',
                             'ledger_cosigned', 'ledger_payloads', 'ledger_rejects']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_read ON %I', t);
        EXECUTE format('CREATE POLICY tenant_read ON %I FOR SELECT TO ledger_reader '
                       'USING (ledger_visible_origin(origin, current_user))', t);
        EXECUTE format('DROP POLICY IF EXISTS service_all ON %I', t);
        EXECUTE format('CREATE POLICY service_all ON %I TO ledger_writer, ledger_sequencer '
                       'USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;
