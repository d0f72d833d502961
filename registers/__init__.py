"""Safety-management registers on SQLAlchemy (users and roles so far)."""
