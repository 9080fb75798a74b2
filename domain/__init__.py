"""Entities, rules and services. Imports no framework: only the standard library."""
