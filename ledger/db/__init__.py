"""Database access: embedded or external PostgreSQL, migrations, named queries."""
