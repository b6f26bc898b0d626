"""PostgreSQL for running many bot workers over one knowledge base (DATABASE_URL).

- `schema`: connecting, and the versioned migrations in `migrations/`
- `kb`: the knowledge base as tables: a YAML folder imported as one change, exported back

Without DATABASE_URL nothing here is used: the YAML folder and files stay the default.
"""
