"""Certificates and reports (证照与报告): licences, registration certificates, evaluation reports.

The first register on :mod:`registers.framework` and the worked example for the next ones:
``models`` (the table), ``schemas`` (Create / Update / Read), ``service`` (the ``Register``
declaration, the completeness check and approval), ``router`` (the API).
"""
