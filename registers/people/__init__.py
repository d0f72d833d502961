"""People (企业人员 / 第三方人员): employees and third parties, their certificates, staffing compliance.

``models`` (tables), ``schemas`` (Create / Update / Read), ``service`` (the two ``Register``
declarations, the duty-roster link and the compliance self-diagnosis on
:mod:`models.compliance`).
"""
