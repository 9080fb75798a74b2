"""Persisted operations: Apollo's automatic persisted queries and trusted documents.

- `operations`: the step every request passes between parsing its body and running it.
- `stores`: the automatic cache (memory LRU or Redis) and the registered list's port.
- `http_cache`: ETag and Cache-Control for persisted queries sent over GET.
- `manifest` and `python -m graph.persisted add FILE...`: registering trusted documents.

The workflow for client teams is in docs/PERSISTED_QUERIES.md. The package imports nothing
itself: graph/http.py uses `http_cache`, and `operations` uses graph/http.py.
"""
