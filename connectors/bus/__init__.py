"""SafeTwin bus."""
