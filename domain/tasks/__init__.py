"""Tasks: work for a customer, maybe assigned to a user, involving products."""
