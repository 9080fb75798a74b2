"""GraphQL adapter of users (identity; roles and login come with auth)."""
