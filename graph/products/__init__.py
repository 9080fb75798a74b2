"""GraphQL adapter of the product catalogue."""
