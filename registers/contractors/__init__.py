"""Contractors (承包商): one file per contractor (一企一档) with its workflow and blacklist.

``models`` (tables), ``schemas``, ``workflow`` (the admission → entry → exit state table),
``evaluation`` (pure weighted scoring), ``service`` (registers, workflow actions and
:func:`registers.contractors.service.may_issue_permit`, which the permit module calls).
"""
