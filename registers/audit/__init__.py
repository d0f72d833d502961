"""Security audit trail (安全审计, 等保2.0 8.1.4.3): an append-only, hash-chained log.

Import the service as a module: ``from registers.audit import service as audit``.
"""
