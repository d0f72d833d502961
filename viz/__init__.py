"""SafeTwin visualisation: the web front end (viz/web) and notebook widgets (viz/notebook)."""
