"""The strawberry GraphQL API served over ASGI (FastAPI + uvicorn)."""
