"""The printable ticket (安全作业票) as PDF, in the layout of GB 30871-2022 附录 A, with a QR code.

The rows are the appendix's: header and identity, organisation and people, timing, related
tickets (关联作业), risk identification, gas analysis, safety measures with confirmers, the
approval chain with each signer's time and signature digest, and completion acceptance. No
row is invented; a type without a row (e.g. 动火级别 on a lifting ticket) leaves it out. The QR
code carries the URL of the ticket, so a scan on site opens the live ticket (after login).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from models.permit_rules import PLANT_TZ, WorkType
from registers.permits.service import PermitFile
from registers.training.documents import CJK_FONT, qr_png

if TYPE_CHECKING:
    from reportlab.platypus import Table

__all__ = ["permit_pdf"]

TICKET_TITLES: Mapping[str, str] = {t.value: t.value.removesuffix("作业") + "安全作业票" for t in WorkType}
_GRADE_LABEL: Mapping[str, str] = {
    WorkType.HOT.value: "动火级别",
    WorkType.HEIGHT.value: "作业级别",
    WorkType.LIFTING.value: "吊装级别",
}
_DETAIL_LABELS: Mapping[str, str] = {
    "hot_work_method": "动火方式",
    "height_m": "作业高度 (m)",
    "mass_t": "吊物质量 (t)",
    "pipeline": "管道名称",
    "plate_no": "盲板编号",
    "blind_action": "抽/堵",
    "medium": "管道介质",
    "medium_phase": "介质相态",
    "temperature_c": "温度 (°C)",
    "pressure_mpa": "压力 (MPa)",
    "plate_spec": "盲板材质/规格",
    "power_source": "电源接入点及许可用电功率",
    "power_kw": "用电设备额定功率 (kW)",
    "voltage_v": "工作电压 (V)",
    "road_reason": "断路原因",
    "excavation_scope": "作业范围、方式",
}


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _t(moment: datetime | None) -> str:
    return moment.astimezone(PLANT_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


def _grid(rows: list[list[object]], widths: list[float], font: str, *, header: bool = True) -> Table:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), font, 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")))
    table.setStyle(TableStyle(style))
    return table


def permit_pdf(file: PermitFile, *, names: Mapping[int, str], permit_url: str, printed_at: datetime) -> bytes:
    """The ticket as a printable A4 PDF.

    Args:
        file: the ticket with its measures, analyses and steps.
        names: person id -> name, for workers, guardian and signers.
        permit_url: what the QR code carries (the ticket's page).
        printed_at: shown as 打印时间.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer

    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=16, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    p = file.permit
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{TICKET_TITLES[p.work_type]} {p.number}",
        author="SafeTwin",
        subject=permit_url,
    )
    qr = Image(io.BytesIO(qr_png(permit_url, box_size=4)), width=30 * mm, height=30 * mm)
    facts: list[list[object]] = [
        ["作业证编号", p.number, "状态", p.status],
        ["申请单位", p.contractor_name or "", "申请时间", _t(p.created_at)],
        ["作业内容", Paragraph(p.content, body), "作业地点", p.location or p.area or ""],
    ]
    if p.work_type in _GRADE_LABEL:
        reasons = f" (升级管理：{'、'.join(p.grade_reasons)})" if p.grade_reasons else ""
        facts.append([_GRADE_LABEL[p.work_type], f"{p.managed_grade}{reasons}", "申请级别", p.grade])
    details = [(label, p.details[key]) for key, label in _DETAIL_LABELS.items() if key in (p.details or {})]
    for left, right in zip(details[::2], [*details[1::2], ("", "")], strict=False):
        facts.append([left[0], str(left[1]), right[0], str(right[1])])
    facts += [
        ["作业人员", "、".join(names.get(i, f"#{i}") for i in p.worker_ids), "监护人", names.get(p.guardian_id, "")],
        ["作业实施时间", f"自 {_t(p.planned_start)} 至 {_t(p.planned_end)}", "有效期至", _t(p.valid_until)],
        ["关联的其他特殊作业及安全作业票编号", "、".join(p.linked_numbers) or "无", "规则版本", p.rules_version],
        ["风险辨识结果", Paragraph("；".join(p.risks), body), "安全交底人", p.briefed_by or ""],
    ]
    head = _grid(
        [[_grid(facts, [26 * mm, 52 * mm, 22 * mm, 48 * mm], font, header=False), qr]],
        [150 * mm, 34 * mm],
        font,
        header=False,
    )
    story = [
        Paragraph(TICKET_TITLES[p.work_type], title),
        Spacer(1, 3 * mm),
        head,
        Paragraph(f"扫码查看：{permit_url}", body),
    ]
    if p.gas_required or file.analyses:
        story += [
            Paragraph("气体分析", heading),
            _grid(
                [["分析时间", "分析部位", "代表性气体及结果", "结论", "分析人"]]
                + [
                    [
                        _t(a.sampled_at),
                        Paragraph(a.point, body),
                        Paragraph("；".join(f"{r['substance']} {r['value']:g}{r['unit']}" for r in a.readings), body),
                        "合格" if a.passed else "不合格",
                        a.analyst,
                    ]
                    for a in file.analyses
                ],
                [30 * mm, 35 * mm, 70 * mm, 16 * mm, 25 * mm],
                font,
            ),
        ]
    story += [
        Paragraph("安全措施", heading),
        _grid(
            [["序号", "安全措施", "是否涉及", "确认人"]]
            + [
                [str(m.seq), Paragraph(m.content, body), "是" if m.involved else "否", m.confirmed_by or ""]
                for m in file.measures
            ],
            [12 * mm, 120 * mm, 18 * mm, 26 * mm],
            font,
        ),
        Paragraph("审批及作业过程", heading),
        _grid(
            [["环节", "处理人", "时间", "意见", "电子签名摘要"]]
            + [
                [
                    s.action,
                    names.get(s.person_id, "") if s.person_id else (s.actor or ""),
                    _t(s.at),
                    Paragraph(s.opinion or "", body),
                    (s.signature or "")[:16],
                ]
                for s in file.steps
            ],
            [22 * mm, 26 * mm, 30 * mm, 68 * mm, 30 * mm],
            font,
        ),
        Paragraph("完工验收", heading),
        _grid(
            [["验收人", p.accepted_by or "", "验收时间", _t(p.accepted_at)]],
            [26 * mm, 62 * mm, 26 * mm, 62 * mm],
            font,
            header=False,
        ),
        Spacer(1, 3 * mm),
        Paragraph(f"内容摘要 SHA-256：{p.content_hash or '未签发'}　打印时间：{_t(printed_at)}", body),
    ]
    doc.build(story)
    return buffer.getvalue()
