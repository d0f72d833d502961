"""uvicorn's access-log line, the same text, written without the formatter's per-line copies.

Every request writes one access-log line. uvicorn's ``AccessFormatter`` copies the log record
twice per line (once in itself, once in its parent), looks the status phrase up through the
``http.HTTPStatus`` enum and formats the ``%`` template twice (the message, then the line):
~13 µs of the ~29 µs a line costs on the bench box, ~2 % of a business-mix request
(docs/performance.md). :class:`AccessFormatter` writes the identical line for uvicorn's own
template without colours, which is what a server logging to a file or a journal uses; with
colours (a terminal) or another template it leaves the line to uvicorn.
"""

from __future__ import annotations

import copy
import http
import logging
from typing import Any, Final, cast

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

UVICORN_ACCESS_FORMAT: Final = LOGGING_CONFIG["formatters"]["access"]["fmt"]
"""uvicorn's template: ``INFO:     127.0.0.1:51234 - "GET /api/v1/health HTTP/1.1" 200 OK``."""

_PHRASES: Final = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}
_ACCESS_ARGS: Final = 5  # client address, method, path with query, HTTP version, status


class AccessFormatter(UvicornAccessFormatter):
    """uvicorn's access formatter; its plain template is written in one f-string."""

    def format(self, record: logging.LogRecord) -> str:
        """The line uvicorn's formatter writes, byte for byte (tests/api/test_access_log.py)."""
        args = record.args
        if (
            self.use_colors
            or self._fmt != UVICORN_ACCESS_FORMAT
            or record.exc_info
            or record.stack_info
            or not isinstance(args, tuple)
            or len(args) != _ACCESS_ARGS
        ):
            return super().format(record)
        client_addr, method, full_path, http_version, status_code = args
        code = int(cast(int, status_code))
        status = _PHRASES.get(code) or f"{code} "
        level = record.levelname
        return f'{level}:{" " * (8 - len(level))} {client_addr} - "{method} {full_path} HTTP/{http_version}" {status}'


def log_config() -> dict[str, Any]:
    """Uvicorn's logging configuration with :class:`AccessFormatter` for the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["()"] = f"{__name__}.AccessFormatter"
    return config
