"""The browser pages: the landing page, the GraphiQL playground, the HTTP API docs, the
schema and the guides, with the pinned third-party files they load from this app.
No page loads anything from another origin."""

from graph.pages.routes import add_pages

__all__ = ["add_pages"]
