"""The read-only web dashboard and JSON API (Starlette on uvicorn); see docs/WEB.md."""
