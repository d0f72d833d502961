"""Alarm register (报警管理): ISA-18.2 states of each occurrence, journal, comments, disposal, KPIs.

``models`` holds the tables, ``service`` the verbs (record a pipeline event, acknowledge,
shelve, comment, dispose, list, KPIs), ``schemas`` the API shapes. The state policy itself is
the pure table in :mod:`models.alarm_states`.
"""
