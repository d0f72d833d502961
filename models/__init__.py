"""Pure domain logic: alarm limits, risk, positioning and PdM maths (no I/O)."""
