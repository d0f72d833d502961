"""SafeTwin mqtt."""
