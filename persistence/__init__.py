"""SQLAlchemy adapter: models, repositories and the unit of work."""
