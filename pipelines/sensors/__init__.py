"""The sensor dataflow: readings in, quality flags, limit alarms and dead letters out."""
