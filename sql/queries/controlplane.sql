-- Who submitted an intake row, as the sequencer judges control-plane events
-- (ledger/store/controlplane.py). Each starts with a "-- name --" header.

-- operator_roles --
-- For each submitting role: may it write control-plane events? A superuser, a member of the
-- role owning ledger_events, or a member of ledger_operator may; anyone else is a writer. A role
-- dropped since it submitted is a writer (no pg_has_role on a name that may not exist).
SELECT r.name, COALESCE(
           a.rolsuper
           OR pg_has_role(a.oid, (SELECT relowner FROM pg_class
                                  WHERE oid = 'ledger_events'::regclass), 'MEMBER')
           OR (o.oid IS NOT NULL AND pg_has_role(a.oid, o.oid, 'MEMBER')),
           false)
FROM unnest(%s::text[]) AS r(name)
LEFT JOIN pg_roles a ON a.rolname = r.name
LEFT JOIN pg_roles o ON o.rolname = 'ledger_operator'

-- abandon_roles --
-- For each submitting role: may it end a run as `abandoned`? What `ledger serve` does (a member
-- of ledger_sequencer), and whoever may write control-plane events; never a writer (the agent
-- host would pass its own failed run off as one the ledger gave up waiting for).
SELECT r.name, COALESCE(
           a.rolsuper
           OR pg_has_role(a.oid, (SELECT relowner FROM pg_class
                                  WHERE oid = 'ledger_events'::regclass), 'MEMBER')
           OR (o.oid IS NOT NULL AND pg_has_role(a.oid, o.oid, 'MEMBER'))
           OR (s.oid IS NOT NULL AND pg_has_role(a.oid, s.oid, 'MEMBER')),
           false)
FROM unnest(%s::text[]) AS r(name)
LEFT JOIN pg_roles a ON a.rolname = r.name
LEFT JOIN pg_roles o ON o.rolname = 'ledger_operator'
LEFT JOIN pg_roles s ON s.rolname = 'ledger_sequencer'
