"""Customers, who own tasks."""
