"""Training (培训管理): one file per person (一人一档), courses, plans, sessions, records, exams.

``models`` / ``schemas`` / ``service`` (registers, exam marking on :mod:`models.exam_marking`,
certificate renewal, the personal file), ``documents`` (QR code and printable PDF record).
"""
