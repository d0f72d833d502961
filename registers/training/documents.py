"""Printable documents of the training file: the person's QR code (PNG) and record (PDF).

The QR code carries the URL of the person's training record; scanned at the gate or on site
it opens the 一人一档 (after login). The PDF uses reportlab's built-in CID font
``STSong-Light``, which every PDF reader has, so Chinese prints without shipping font files.
qrcode and reportlab are imported on first use, not at start-up.
"""

from __future__ import annotations

import io
from datetime import date
from typing import TYPE_CHECKING

from registers.training.service import TrainingFile

if TYPE_CHECKING:
    from reportlab.platypus import Table

__all__ = ["CJK_FONT", "qr_png", "record_pdf"]

CJK_FONT = "STSong-Light"


def qr_png(payload: str, *, box_size: int = 8) -> bytes:
    """A QR code of ``payload`` as PNG bytes (error correction M: survives a scuffed badge)."""
    import qrcode
    import qrcode.constants

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _table(header: list[str], rows: list[list[str]], widths: list[float], font: str) -> Table:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table([header, *rows] if rows else [header, ["无"] + [""] * (len(header) - 1)], colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _d(value: date | None) -> str:
    return value.isoformat() if value else ""


def record_pdf(file: TrainingFile, *, record_url: str, printed_on: date) -> bytes:
    """The person's training record (个人培训档案) as a printable A4 PDF.

    Args:
        file: the training file.
        record_url: the URL the QR code in the corner points to.
        printed_on: date shown as 打印日期 (the plant's local date).
    """
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=16, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    person = file.person
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"个人培训档案 {person.name}",
        author="SafeTwin",
    )
    qr = Image(io.BytesIO(qr_png(record_url, box_size=4)), width=28 * mm, height=28 * mm)
    facts = [
        ["姓名", person.name, "人员编号", person.code],
        ["人员类别", person.category, "所属单位", person.employer or ""],
        ["部门", person.department or "", "岗位", person.position or ""],
        ["累计学时", f"{file.total_hours:g}", "打印日期", printed_on.isoformat()],
    ]
    facts_table = Table(facts, colWidths=[20 * mm, 45 * mm, 20 * mm, 45 * mm])
    facts_table.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), font, 10), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey)])
    )
    head = Table([[facts_table, qr]])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [
        Paragraph("个人安全培训档案（一人一档）", title),
        Spacer(1, 4 * mm),
        head,
        Paragraph("持证情况", heading),
        _table(
            ["证书类型", "类别", "证书编号", "有效期至", "复审日期"],
            [
                [c.kind, c.category or "", c.number or "", _d(c.expiry_date), _d(c.review_due)]
                for c in file.certificates
            ],
            [30 * mm, 40 * mm, 45 * mm, 32 * mm, 32 * mm],
            font,
        ),
        Paragraph("培训记录", heading),
        _table(
            ["日期", "类型", "培训名称", "学时", "成绩", "合格"],
            [
                [
                    r.trained_on.isoformat(),
                    r.training_type,
                    Paragraph(r.title, body),
                    f"{r.hours:g}",
                    "" if r.score is None else f"{r.score:g}",
                    {True: "是", False: "否", None: ""}[r.passed],
                ]
                for r in file.records
            ],
            [24 * mm, 20 * mm, 75 * mm, 15 * mm, 18 * mm, 15 * mm],
            font,
        ),
        Paragraph("学时统计：" + "，".join(f"{k} {v:g} 学时" for k, v in file.hours_by_type.items()), body),
        Paragraph("考试成绩", heading),
        _table(
            ["试卷ID", "得分", "总分", "结果", "时间 (UTC)"],
            [
                [
                    str(a.exam_id),
                    f"{a.score:g}",
                    f"{a.total:g}",
                    "及格" if a.passed else "不及格",
                    a.submitted_at.strftime("%Y-%m-%d %H:%M"),
                ]
                for a in file.attempts
            ],
            [25 * mm, 25 * mm, 25 * mm, 30 * mm, 50 * mm],
            font,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
