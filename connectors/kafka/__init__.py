"""SafeTwin kafka."""
