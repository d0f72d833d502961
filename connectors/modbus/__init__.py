"""SafeTwin modbus."""
