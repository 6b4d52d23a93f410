-- The demo's simulated target systems (a CRM, a payments ledger, an outbox): tables the demo
-- agents act on and the undo examples compensate. They stand in for SaaS systems; they are not
-- the ledger's own tables, so their DDL lives here and not in migrations/.

-- demo_world_schema --
-- The demo story's world, in its own schema (ledger/cli/demo_story/world.py).
CREATE SCHEMA IF NOT EXISTS demo_crm;
CREATE TABLE IF NOT EXISTS demo_crm.crm_contacts (
    id text PRIMARY KEY, name text, email text, tier text, status text, attrs jsonb);
CREATE TABLE IF NOT EXISTS demo_crm.crm_refunds (
    refund_id text PRIMARY KEY, charge_id text NOT NULL, amount_cents bigint NOT NULL,
    status text NOT NULL);
CREATE TABLE IF NOT EXISTS demo_crm.outbox (
    message_id text PRIMARY KEY, to_addr text NOT NULL, subject text NOT NULL, body text NOT NULL);

-- demo_crm_tables --
-- The undo examples' CRM, in the connection's search path (replay/undo/examples/demo.py).
CREATE TABLE IF NOT EXISTS crm_contacts (
    id text PRIMARY KEY, name text, email text, tier text, status text, attrs jsonb);
CREATE TABLE IF NOT EXISTS crm_refunds (
    refund_id text PRIMARY KEY, charge_id text NOT NULL, amount_cents bigint NOT NULL,
    status text NOT NULL);

-- demo_seed_contact --
INSERT INTO crm_contacts (id, name, email, tier, status, attrs)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING

-- demo_set_contact_field --
-- One of the four text fields by name (the caller checks the name; unknown names change nothing).
UPDATE crm_contacts SET
    name = CASE WHEN %(field)s = 'name' THEN %(value)s ELSE name END,
    email = CASE WHEN %(field)s = 'email' THEN %(value)s ELSE email END,
    tier = CASE WHEN %(field)s = 'tier' THEN %(value)s ELSE tier END,
    status = CASE WHEN %(field)s = 'status' THEN %(value)s ELSE status END
WHERE id = %(id)s

-- demo_contact_field --
SELECT CASE %(field)s WHEN 'name' THEN name WHEN 'email' THEN email
                      WHEN 'tier' THEN tier WHEN 'status' THEN status END
FROM crm_contacts WHERE id = %(id)s

-- demo_contacts --
SELECT id, name, email, tier FROM crm_contacts ORDER BY id

-- demo_contact --
SELECT id, name, email, tier, status, attrs FROM crm_contacts WHERE id = %s

-- demo_restore_contact --
INSERT INTO crm_contacts (id, name, email, tier, status, attrs) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, tier = EXCLUDED.tier,
    status = EXCLUDED.status, attrs = EXCLUDED.attrs

-- demo_send_email --
INSERT INTO outbox (message_id, to_addr, subject, body) VALUES (%s, %s, %s, %s)

-- demo_refund --
INSERT INTO crm_refunds (refund_id, charge_id, amount_cents, status) VALUES (%s, %s, %s, 'succeeded')

-- demo_reverse_refund --
UPDATE crm_refunds SET status = 'reversed'
WHERE refund_id = %s AND status IN ('succeeded', 'reversed')

-- demo_refund_status --
SELECT status FROM crm_refunds WHERE refund_id = %s
