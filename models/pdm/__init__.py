"""Predictive maintenance: window features of vibration, temperature and current; RUL and warnings."""
