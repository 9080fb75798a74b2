"""GraphQL adapter of the audit trail, for auditors (AUDIT read)."""
