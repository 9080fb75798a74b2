"""GraphQL adapter of customers."""
