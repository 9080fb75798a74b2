"""GraphQL adapter of authentication: login, token refresh, logout, password change."""
