"""Authentication and authorization: passwords, tokens, RBAC and their use cases."""
