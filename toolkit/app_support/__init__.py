"""Library helpers behind the Streamlit app (``app.py`` and ``app_pages/``), so the pages stay thin.

- ``records``: the import-list shape (``list_imports()`` columns) and statuses.
- ``aggregations``: filters and DuckDB aggregates for the Imports and Dashboard pages.
- ``charts``: plotly figures of those aggregates.
- ``target``: which API the app talks to (secrets, environment, or embedded).
- ``session``: the connection, the cached loaders and the demo on first start.
- ``uploads``: an uploaded file saved, converted, validated and previewed.
- ``upload_spool``: the ASGI middleware of ``serve_app.py`` that streams uploads to disk.
- ``validate_view``, ``detail``, ``ui``: Streamlit building blocks of the pages.
- ``synthetic``: large synthetic import lists for benchmarks and load tests.

Only ``records``, ``aggregations``, ``charts``, ``target``, ``uploads``,
``upload_spool`` (Streamlit only inside the middleware) and ``synthetic`` are
free of Streamlit at import; import the others inside a script run.
"""

__all__: list[str] = []
