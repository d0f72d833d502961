"""Edges of SafeTwin: field protocols, Kafka, stores, the in-process bus and stream contracts."""
