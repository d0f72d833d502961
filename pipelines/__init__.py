"""Bytewax dataflows: pure steps plus thin builders."""
