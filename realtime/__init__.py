"""Real-time fan-out of the change log: commit notifications, the per-process hub, brokers.

The change log (`audit_log`) is the event stream; see docs/REALTIME.md.
"""
