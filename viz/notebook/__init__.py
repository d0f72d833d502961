"""Notebook widgets of SafeTwin (pythreejs), talking to the API over HTTP only."""
