"""Authority: who may do what, proven (DESIGN §13, issue 14).

The principal registry (signed by an administrator key the verifier brings out of band), the
trust root that names that key, identity tokens verified against the registry's providers, and
the signed approvals that bind a decision to the exact call. Everything that judges *who* reads
it from here; nothing here trusts a name a writer chose.
"""
