"""One router per API domain."""
