"""Training: records by type, question bank checks, exam marking end to end, renewal, the personal file, QR, PDF."""

from __future__ import annotations

import io
from datetime import date

import pytest
import qrcode
from PIL import Image
from pypdf import PdfReader
from sqlalchemy.orm import Session

from models.compliance import CertificateKind
from models.exam_marking import QuestionKind
from registers.framework.service import InvalidInput
from registers.people import service as people
from registers.people.schemas import PersonCertificateCreate, PersonCreate
from registers.training import documents, service
from registers.training.models import TrainingType
from registers.training.schemas import ExamCreate, QuestionCreate, QuestionUpdate, RecordCreate

TODAY = date(2026, 11, 28)


@pytest.fixture
def pid(session: Session) -> int:
    return people.persons.create(session=session, data=PersonCreate(code="E1", name="何伟"), actor="t").id


def record(session: Session, pid: int, kind: TrainingType, hours: float, **kw: object) -> int:
    data = RecordCreate(
        person_id=pid, training_type=kind, title=f"{kind.value}培训", trained_on=TODAY, hours=hours, **kw
    )  # type: ignore[arg-type]
    return service.records.create(session=session, data=data, actor="t").id


def test_records_are_queried_by_training_type_and_summed_per_person(session: Session, pid: int) -> None:
    record(session, pid, TrainingType.THREE_LEVEL, 24, level="厂级")
    record(session, pid, TrainingType.THREE_LEVEL, 16, level="车间级")
    record(session, pid, TrainingType.OCCUPATIONAL_HEALTH, 2)
    page = service.records.list(session=session, filters={"training_type": "三级教育"})
    assert page.total == 2
    assert [
        r.training_type
        for r in service.records_of(session=session, person_id=pid, training_type=TrainingType.OCCUPATIONAL_HEALTH)
    ] == ["职业健康"]
    file = service.training_file(session=session, person_id=pid)
    assert (file.total_hours, file.hours_by_type) == (42.0, {"三级教育": 40.0, "职业健康": 2.0})


def test_a_question_whose_answer_is_not_an_option_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="不在选项"):
        QuestionCreate(bank="b", kind=QuestionKind.SINGLE, stem="?", option_a="x", option_b="y", answer="C")
    q = service.questions.create(
        session=session,
        data=QuestionCreate(bank="b", kind=QuestionKind.SINGLE, stem="?", option_a="x", option_b="y", answer="B"),
        actor="t",
    )
    with pytest.raises(InvalidInput, match="不在选项"):
        service.questions.update(session=session, record_id=q.id, data=QuestionUpdate(option_b=None), actor="t")


def test_exam_is_marked_and_filed(session: Session, pid: int) -> None:
    bank = [
        QuestionCreate(
            bank="b", kind=QuestionKind.SINGLE, stem="单选", option_a="x", option_b="y", answer="B", points=2
        ),
        QuestionCreate(
            bank="b",
            kind=QuestionKind.MULTIPLE,
            stem="多选",
            option_a="x",
            option_b="y",
            option_c="z",
            answer="AC",
            points=4,
        ),
        QuestionCreate(bank="b", kind=QuestionKind.TRUE_FALSE, stem="判断", answer="错", points=4),
    ]
    ids = [service.questions.create(session=session, data=q, actor="t").id for q in bank]
    exam = service.exams.create(
        session=session, data=ExamCreate(title="考试", training_type=TrainingType.ROUTINE, question_ids=ids), actor="t"
    )
    paper = service.paper(session=session, exam_id=exam.id)
    assert paper.total == 10
    assert paper.questions[1].options == {"A": "x", "B": "y", "C": "z"}
    answers = {str(ids[0]): "B", str(ids[1]): ["C", "A"], str(ids[2]): "×"}
    attempt = service.submit_exam(session=session, exam_id=exam.id, person_id=pid, answers=answers, actor="t")
    assert (attempt.score, attempt.total, attempt.passed) == (10.0, 10.0, True)
    partial = service.submit_exam(
        session=session, exam_id=exam.id, person_id=pid, answers={str(ids[1]): "A"}, actor="t"
    )
    assert (partial.score, partial.passed) == (2.0, False)
    assert [d["note"] for d in partial.details] == ["未作答", "少选", "未作答"]
    assert len(service.training_file(session=session, person_id=pid).attempts) == 2
    service.questions.soft_delete(session=session, record_id=ids[0], actor="t")
    with pytest.raises(InvalidInput, match="不存在或已删除"):
        service.paper(session=session, exam_id=exam.id)


def test_certificate_renewal_from_a_passed_certification_training(session: Session, pid: int) -> None:
    cert = people.certificates.create(
        session=session,
        data=PersonCertificateCreate(
            person_id=pid, kind=CertificateKind.SPECIAL_OPERATION, expiry_date=date(2026, 12, 31)
        ),
        actor="t",
    )
    daily = record(session, pid, TrainingType.ROUTINE, 2)
    with pytest.raises(service.RenewalRefused, match="取换证"):
        service.renew_certificate(session=session, record_id=daily, actor="m")
    failed = record(
        session,
        pid,
        TrainingType.CERTIFICATION,
        48,
        passed=False,
        renews_certificate_id=cert.id,
        new_expiry_date=date(2029, 12, 31),
    )
    with pytest.raises(service.RenewalRefused, match="未合格"):
        service.renew_certificate(session=session, record_id=failed, actor="m")
    passed = record(
        session,
        pid,
        TrainingType.CERTIFICATION,
        48,
        passed=True,
        renews_certificate_id=cert.id,
        new_expiry_date=date(2029, 12, 31),
    )
    renewed = service.renew_certificate(session=session, record_id=passed, actor="m")
    assert renewed.expiry_date == date(2029, 12, 31)
    assert people.certificates.history(session=session, record_id=cert.id)[-1].changes == {
        "expiry_date": ["2026-12-31", "2029-12-31"]
    }
    with pytest.raises(service.RenewalRefused, match="须晚于"):
        service.renew_certificate(session=session, record_id=passed, actor="m")


def test_qr_code_is_a_png_of_the_record_url() -> None:
    url = "https://safetwin.example/api/v1/training/people/7/file"
    png = documents.qr_png(url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # the same payload built independently with qrcode gives the same modules (pixels)
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    expected.add_data(url)
    expected.make(fit=True)
    buffer = io.BytesIO()
    expected.make_image().save(buffer)
    ours, theirs = Image.open(io.BytesIO(png)), Image.open(io.BytesIO(buffer.getvalue()))
    assert ours.size == theirs.size and ours.tobytes() == theirs.tobytes()
    assert documents.qr_png(url + "x") != png


def test_pdf_record_carries_the_persons_name(session: Session, pid: int) -> None:
    record(session, pid, TrainingType.THREE_LEVEL, 24, level="厂级", score=90, passed=True)
    pdf = documents.record_pdf(
        service.training_file(session=session, person_id=pid), record_url="http://x/1", printed_on=TODAY
    )
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and "何伟" in (reader.metadata.title or "")
    text = "".join(page.extract_text() for page in reader.pages)
    assert "何伟" in text
