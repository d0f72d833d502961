"""Benchmark: import of a 10,000-row Excel ledger of certificates through the register framework.

Measured: ``registers.framework.importing.import_file`` on a fresh migrated SQLite file — read
the .xlsx, validate every row with the create schema, completeness check, one bulk insert of
the rows and one of their history, all in one transaction (committed).

Baseline (same run, same file): the naive way — openpyxl ``iter_rows``, pydantic per row, then
``session.add(Certificate(...)); session.flush()`` per row, without even writing history.

Prints human lines, then as the LAST line one JSON object:
{"rows_per_s", "baseline_rows_per_s", "ratio", "rows", "runs", "target_rows_per_s", "meets_target"}
where ratio = rows_per_s / baseline_rows_per_s (higher is better). Target: ≥ 5,000 rows/s.

Usage: .venv/bin/python bench/registers_import.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from registers.certificates.models import Certificate
from registers.certificates.schemas import CertificateCreate
from registers.certificates.service import register
from registers.db import make_engine, make_session_factory, migrate
from registers.framework.importing import import_file

TARGET = 5_000
HEADER = [
    "证照类型",
    "证照编号",
    "证照名称",
    "持证单位",
    "发证机关",
    "发证日期",
    "有效期至",
    "许可范围",
    "状态",
    "负责人",
]


def ledger(rows: int) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("证照台账")
    sheet.append(HEADER)
    kinds = ["安全生产许可证", "危险化学品登记证", "安全生产标准化证书"]
    for i in range(rows):
        sheet.append(
            [
                kinds[i % 3],
                f"WH-{i:06d}",
                f"证照{i}",
                f"化工企业{i % 211}",
                "省应急管理厅",
                date(2024, 1 + i % 12, 1),
                date(2027, 1 + i % 12, 1),
                "危险化学品生产：甲醇、液氯" if i % 7 else None,
                "有效",
                "张三",
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def fresh_database(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}"
    migrate(url)
    return url


def run_framework(content: bytes, url: str) -> tuple[int, float]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    start = time.perf_counter()
    with factory.begin() as session:
        report = import_file(register, session=session, content=content, filename="证照台账.xlsx", actor="bench")
    elapsed = time.perf_counter() - start
    engine.dispose()
    return report.imported, elapsed


def run_baseline(content: bytes, url: str, limit: int) -> tuple[int, float]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    fields = {register.label(f): f for f in register.fields}
    start = time.perf_counter()
    count = 0
    with factory.begin() as session:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        names = [fields[str(h)] for h in next(rows)]
        for row in rows:
            if count >= limit:
                break
            values: dict[str, Any] = {
                n: (v.date() if hasattr(v, "date") else v) for n, v in zip(names, row, strict=True) if v is not None
            }
            item = CertificateCreate.model_validate(values)
            session.add(Certificate(**item.model_dump(), **register.derived_values(item.model_dump())))
            session.flush()
            count += 1
    elapsed = time.perf_counter() - start
    engine.dispose()
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run instead of three (< 45 s)")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    baseline_rows = args.rows

    content = ledger(args.rows)
    print(f"ledger: {args.rows} rows, {len(content) / 1e6:.1f} MB .xlsx")
    rates, baseline_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for run in range(runs):
            imported, elapsed = run_framework(content, fresh_database(folder, f"framework-{run}.db"))
            assert imported == args.rows, imported
            rates.append(imported / elapsed)
            print(f"framework run {run}: {imported} rows in {elapsed:.2f} s = {imported / elapsed:,.0f} rows/s")
            count, elapsed = run_baseline(content, fresh_database(folder, f"baseline-{run}.db"), baseline_rows)
            baseline_rates.append(count / elapsed)
            print(f"baseline  run {run}: {count} rows in {elapsed:.2f} s = {count / elapsed:,.0f} rows/s")
    rate, baseline = statistics.median(rates), statistics.median(baseline_rates)
    result = {
        "rows_per_s": round(rate),
        "baseline_rows_per_s": round(baseline),
        "ratio": round(rate / baseline, 2),
        "rows": args.rows,
        "runs": runs,
        "target_rows_per_s": TARGET,
        "meets_target": rate >= TARGET,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
