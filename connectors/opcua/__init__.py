"""SafeTwin opcua."""
