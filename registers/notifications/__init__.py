"""Alarm notifications (报警通知): routing rules, duty roster (值班表), delivery log and escalation.

Import the service as a module from other domains:
``from registers.notifications import service as notifications``.
"""
