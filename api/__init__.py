"""SafeTwin API: FastAPI app, routers, auth, live push and the ``safetwin`` CLI."""

__version__ = "0.1.0"
