-- Tool argument schemas recorded by the hooks (replay/toolvalid.py, docs/hooks.md "Tool
-- schemas"). Each starts with a "-- name --" header.

-- tool_args_schemas --
-- Every distinct (digest, schema) recorded in an origin (or only the digests asked for); the
-- byte search skips the calls that carry only the digest without parsing them.
SELECT DISTINCT b.doc #>> '{data,args_schema_digest}' AS digest,
       (b.doc #> '{data,args_schema}')::text AS schema
FROM ledger_events e
CROSS JOIN LATERAL (SELECT convert_from(e.body, 'UTF8')::jsonb AS doc) b
WHERE e.origin = %(origin)s AND e.type = 'tool.call.started'
  AND position('"args_schema":'::bytea IN e.body) > 0
  AND b.doc #>> '{data,args_schema_digest}' IS NOT NULL
  AND jsonb_typeof(b.doc #> '{data,args_schema}') = 'object'
  AND (%(digests)s::text[] IS NULL OR b.doc #>> '{data,args_schema_digest}' = ANY(%(digests)s::text[]))
