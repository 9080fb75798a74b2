"""The audit trail: change capture, access log, tamper evidence and archiving."""
