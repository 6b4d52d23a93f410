-- Production roles (migration 0010, ledger/store/roles.py). Each starts with a "-- name --" header.
-- {role} is a psycopg.sql.Identifier, {password} a psycopg.sql.Literal (DDL takes no bind
-- parameters), both filled in by the caller.

-- role_exists --
SELECT rolcanlogin FROM pg_roles WHERE rolname = %s

-- create_login_role --
CREATE ROLE {role} LOGIN

-- create_login_role_password --
CREATE ROLE {role} LOGIN PASSWORD {password}

-- grant_writer --
GRANT ledger_writer TO {role}

-- bind_writer --
-- One binding per role: re-binding moves the credential to the new tenant/agent.
INSERT INTO ledger_writer_bindings (role_name, tenant, agent) VALUES (%s, %s, %s)
ON CONFLICT (role_name) DO UPDATE SET tenant = EXCLUDED.tenant, agent = EXCLUDED.agent
RETURNING (xmax <> 0) AS rebound
