-- Writer confinement (issue 15, item 2). Threat model: the agent host holds writer credentials
-- and may be hostile. The database, not the client, binds a writer to its tenant.
--
-- * ledger_operator: who may write control-plane events (the sequencer classifies submitters, 0009).
-- * ledger_writer_bindings: LOGIN role -> tenant (and optionally agent name); only the owner
--   changes it. Mirrors 0005's reader rule: while the table is empty (single-tenant installs,
--   embedded mode) writers are unconfined; once any writer is bound, an unbound writer may
--   write nothing (fail closed). Tenant '*' means every tenant.
-- * RLS WITH CHECK on ledger_intake and ledger_payloads: a writer inserts only rows whose
--   origin ends in '/<its tenant>' (the origin prefix itself is not pinned: it is configuration
--   of the client, and a foreign prefix only makes a separate log nobody trusts).
-- * Writers lose every read of the log, of keys and of payloads; what they need comes through
--   the SECURITY DEFINER read API below, scoped to the caller's tenant. Inside a SECURITY
--   DEFINER function current_user is the owner, so the caller is session_user (a LOGIN role
--   cannot change its session_user; only a superuser can SET SESSION AUTHORIZATION).
-- ledger_operator and ledger_intake.submitted_by come from 0009.

-- Every role may see which schema version it talks to (connect() checks it before anything).
GRANT SELECT ON ledger_schema_migrations
    TO ledger_writer, ledger_sequencer, ledger_reader, ledger_operator;

CREATE TABLE IF NOT EXISTS ledger_writer_bindings (
    role_name name PRIMARY KEY,
    tenant    text NOT NULL,
    agent     text
);
REVOKE ALL ON ledger_writer_bindings FROM PUBLIC;

-- Search paths: every SECURITY DEFINER function below (and 0005's ledger_visible_origin) runs
-- with `search_path = pg_catalog, public, pg_temp` and names every table and catalog with its
-- schema. pg_temp is searched FIRST for relations unless named in search_path, so a writer's
-- `CREATE TEMP TABLE pg_roles (...)` would otherwise answer the owner's catalog lookups.
ALTER FUNCTION ledger_visible_origin(text, name) SET search_path = pg_catalog, public, pg_temp;

-- The agent name an event body claims, or NULL when the body is not a JSON object with one
-- (a rejected body may be anything: it must make the caller see nothing, never raise).
CREATE OR REPLACE FUNCTION ledger_body_agent(body bytea) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RETURN pg_catalog.convert_from(body, 'UTF8')::pg_catalog.jsonb -> 'agent' ->> 'name';
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION ledger_body_agent(bytea) FROM PUBLIC;

-- May the calling LOGIN role write origin o (and, when bound to an agent, an event body naming
-- that agent)? body NULL asks about the tenant only (payload rows, registries, keys). The
-- caller is session_user: inside a SECURITY DEFINER function current_user is the owner, and
-- taking the role as an argument let any writer ask about every other role's binding. A
-- binding therefore confines the login credential, whatever role it SETs.
CREATE OR REPLACE FUNCTION ledger_writer_may_write(o text, body bytea) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT NOT EXISTS (SELECT 1 FROM public.ledger_writer_bindings)
        OR EXISTS (
            SELECT 1 FROM public.ledger_writer_bindings b
            WHERE b.role_name = session_user
              AND (b.tenant = '*' OR right(o, length(b.tenant) + 1) = '/' || b.tenant)
              AND CASE WHEN b.agent IS NULL OR body IS NULL THEN true
                       ELSE public.ledger_body_agent(body) IS NOT DISTINCT FROM b.agent END
        )
$$;
REVOKE ALL ON FUNCTION ledger_writer_may_write(text, bytea) FROM PUBLIC;
-- RLS policies run their expressions with the querying role's rights: writers need EXECUTE.
GRANT EXECUTE ON FUNCTION ledger_writer_may_write(text, bytea) TO ledger_writer;

-- Which rows may the caller of the read API see? Owner, superuser, sequencer and operator:
-- all; a writer: its binding's tenant and, for an event `body` when bound to an agent, only
-- that agent's events (body NULL: a tenant-wide row such as a registry or a public key);
-- anyone else: the reader mapping of 0005.
CREATE OR REPLACE FUNCTION ledger_api_visible(o text, body bytea) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT CASE
        WHEN (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user)
          OR pg_catalog.pg_has_role(session_user,
                                    (SELECT c.relowner FROM pg_catalog.pg_class c
                                     WHERE c.oid = 'public.ledger_events'::pg_catalog.regclass),
                                    'MEMBER')
          OR pg_catalog.pg_has_role(session_user, 'ledger_sequencer', 'MEMBER')
          OR pg_catalog.pg_has_role(session_user, 'ledger_operator', 'MEMBER') THEN true
        WHEN pg_catalog.pg_has_role(session_user, 'ledger_writer', 'MEMBER')
            THEN public.ledger_writer_may_write(o, body)
        ELSE public.ledger_visible_origin(o, session_user)
    END
$$;
REVOKE ALL ON FUNCTION ledger_api_visible(text, bytea) FROM PUBLIC;

-- Intake: writers insert (columns they set only: never submitted_by) and see nothing but the
-- event_id of rows they submitted themselves (what INSERT ... RETURNING needs for receipts).
REVOKE SELECT, INSERT ON ledger_intake FROM ledger_writer;
GRANT INSERT (event_id, origin, run_id, run_seq, body) ON ledger_intake TO ledger_writer;
GRANT SELECT (event_id) ON ledger_intake TO ledger_writer;
ALTER TABLE ledger_intake ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS writer_insert ON ledger_intake;
CREATE POLICY writer_insert ON ledger_intake FOR INSERT TO ledger_writer
    WITH CHECK (ledger_writer_may_write(origin, body));
DROP POLICY IF EXISTS writer_own ON ledger_intake;
CREATE POLICY writer_own ON ledger_intake FOR SELECT TO ledger_writer
    USING (submitted_by = session_user);
DROP POLICY IF EXISTS service_all ON ledger_intake;
CREATE POLICY service_all ON ledger_intake TO ledger_sequencer USING (true) WITH CHECK (true);

-- The log, keys, payloads: no reads for writers; payloads insert-only, own tenant only.
REVOKE SELECT (event_id) ON ledger_events FROM ledger_writer;
REVOKE SELECT, INSERT ON ledger_subject_keys FROM ledger_writer;
REVOKE SELECT, INSERT ON ledger_payloads FROM ledger_writer;
DO $$
DECLARE t text;
BEGIN
    -- 0005's allow-all policies named writers too; they are the sequencer's alone now.
    FOREACH t IN ARRAY ARRAY['ledger_events', 'ledger_checkpoints', 'ledger_tiles',
                             'ledger_cosigned', 'ledger_payloads', 'ledger_rejects']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS service_all ON %I', t);
        EXECUTE format('CREATE POLICY service_all ON %I TO ledger_sequencer '
                       'USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$$;
DROP POLICY IF EXISTS writer_insert ON ledger_payloads;
CREATE POLICY writer_insert ON ledger_payloads FOR INSERT TO ledger_writer
    WITH CHECK (ledger_writer_may_write(origin, NULL));

-- Payloads sealed at capture by a writer carry their own envelope: the writer makes a one-off
-- X25519 key pair, seals the payload to its public half, wraps the private half with the
-- KEK's public key and forgets it. NULL columns: the payload uses its subject's key row.
ALTER TABLE ledger_payloads
    ADD COLUMN IF NOT EXISTS scheme text,
    ADD COLUMN IF NOT EXISTS public_key bytea,
    ADD COLUMN IF NOT EXISTS wrapped_key bytea,
    ADD COLUMN IF NOT EXISTS kek_id text;
ALTER TABLE ledger_payloads DROP CONSTRAINT IF EXISTS payload_envelope_shape;
ALTER TABLE ledger_payloads ADD CONSTRAINT payload_envelope_shape CHECK (
    (scheme IS NULL AND public_key IS NULL AND wrapped_key IS NULL AND kek_id IS NULL)
    OR (scheme IN ('x25519-sealed', 'pkcs11-rsa-oaep') AND length(public_key) = 32
        AND wrapped_key IS NOT NULL AND kek_id IS NOT NULL)
);
GRANT INSERT (commitment, origin, subject, event_id, path, ciphertext,
              scheme, public_key, wrapped_key, kek_id) ON ledger_payloads TO ledger_writer;
-- ON CONFLICT (commitment) needs SELECT on the arbiter column, and then RLS checks the new row
-- against a SELECT policy too: writers see the commitment column of their own tenant's rows
-- (salted hashes that are in the log bodies anyway), nothing else.
GRANT SELECT (commitment) ON ledger_payloads TO ledger_writer;
DROP POLICY IF EXISTS writer_commitments ON ledger_payloads;
CREATE POLICY writer_commitments ON ledger_payloads FOR SELECT TO ledger_writer
    USING (ledger_writer_may_write(origin, NULL));

-- ---------------------------------------------------------------- the tenant-scoped read API

-- Ids among `ids` already in a log the caller may see (submission's idempotency check).
CREATE OR REPLACE FUNCTION ledger_logged_ids(ids uuid[]) RETURNS uuid[]
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(array_agg(e.event_id), '{}') FROM public.ledger_events e
    WHERE e.event_id = ANY(ids) AND public.ledger_api_visible(e.origin, e.body)
$$;

-- Where each acknowledged event is: sequenced (seq, leaf hash, body), pending (body),
-- rejected (reason) or unknown; ids of tenants the caller cannot see are unknown.
CREATE OR REPLACE FUNCTION ledger_receipts(ids uuid[])
    RETURNS TABLE (event_id uuid, state text, seq bigint, leaf_hash bytea, body bytea,
                   reason text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT r.id,
           CASE WHEN e.event_id IS NOT NULL THEN 'sequenced'
                WHEN i.event_id IS NOT NULL THEN 'pending'
                WHEN j.reason IS NOT NULL THEN 'rejected' ELSE 'unknown' END,
           e.seq, e.leaf_hash, coalesce(e.body, i.body), j.reason
    FROM unnest(ids) AS r(id)
    LEFT JOIN public.ledger_events e
           ON e.event_id = r.id AND public.ledger_api_visible(e.origin, e.body)
    LEFT JOIN public.ledger_intake i
           ON i.event_id = r.id AND public.ledger_api_visible(i.origin, i.body)
    LEFT JOIN LATERAL (SELECT x.reason FROM public.ledger_rejects x
                       WHERE x.event_id = r.id AND public.ledger_api_visible(x.origin, x.body)
                       ORDER BY x.rejected_at DESC LIMIT 1) AS j ON true
    ORDER BY r.id
$$;

-- The newest event of a run the caller may see, logged or still in intake.
CREATE OR REPLACE FUNCTION ledger_run_head(run uuid)
    RETURNS TABLE (run_seq bigint, leaf_hash bytea, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT h.run_seq, h.leaf_hash, h.body FROM (
        SELECT e.run_seq, e.leaf_hash, NULL::bytea AS body FROM public.ledger_events e
        WHERE e.run_id = run AND public.ledger_api_visible(e.origin, e.body)
        UNION ALL
        SELECT i.run_seq, NULL, i.body FROM public.ledger_intake i
        WHERE i.run_id = run AND public.ledger_api_visible(i.origin, i.body)
    ) AS h ORDER BY h.run_seq DESC LIMIT 1
$$;

-- The published principal registries of one log (what a decision signed in the agent's
-- process checks its approver against), if the caller may see that log.
CREATE OR REPLACE FUNCTION ledger_registries(o text) RETURNS TABLE (seq bigint, body bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT e.seq, e.body FROM public.ledger_events e
    WHERE e.origin = o AND e.type = 'registry.published' AND public.ledger_api_visible(o, NULL)
    ORDER BY e.seq
$$;

-- A subject's public key (never the wrapped or legacy secret), if the caller may see its log.
CREATE OR REPLACE FUNCTION ledger_subject_public_key(o text, subj text)
    RETURNS TABLE (scheme text, public_key bytea, kek_id text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT k.scheme, k.public_key, k.kek_id FROM public.ledger_subject_keys k
    WHERE k.origin = o AND k.subject = subj AND k.public_key IS NOT NULL
      AND public.ledger_api_visible(o, NULL)
$$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['ledger_logged_ids(uuid[])', 'ledger_receipts(uuid[])',
                             'ledger_run_head(uuid)', 'ledger_registries(text)',
                             'ledger_subject_public_key(text, text)']
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ledger_writer, ledger_sequencer, '
                       'ledger_reader, ledger_operator', f);
    END LOOP;
END
$$;
