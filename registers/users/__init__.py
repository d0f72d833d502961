"""Users and roles (用户与角色): accounts, password rules and login lockout of 等保2.0 8.1.4.

Import the service as a module from other domains:
``from registers.users import service as users``.
"""
