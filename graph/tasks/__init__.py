"""GraphQL adapter of tasks."""
