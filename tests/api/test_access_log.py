"""api.access_log writes the access-log line uvicorn's own formatter writes, byte for byte."""

from __future__ import annotations

import logging

from hypothesis import example, given
from hypothesis import strategies as st
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from api import access_log


def _record(args: tuple[object, ...], level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", level, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


_ADDRESSES = st.one_of(st.just("127.0.0.1:51234"), st.just("[::1]:8000"), st.text(max_size=30))
_PATHS = st.text(max_size=60)  # percent signs, quotes, CJK, control characters: printed as given


@given(
    client=_ADDRESSES,
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "X-ODD"]),
    path=_PATHS,
    version=st.sampled_from(["1.0", "1.1", "2"]),
    status=st.integers(100, 999),
    level=st.sampled_from([logging.INFO, logging.WARNING, logging.DEBUG]),
)
@example(
    client="127.0.0.1:1", method="GET", path="/api/v1/health?x=%s%d", version="1.1", status=200, level=logging.INFO
)
@example(client="127.0.0.1:1", method="GET", path="/", version="1.1", status=599, level=logging.INFO)  # no phrase
def test_the_line_is_uvicorns(client: str, method: str, path: str, version: str, status: int, level: int) -> None:
    ours = access_log.AccessFormatter(fmt=access_log.UVICORN_ACCESS_FORMAT, use_colors=False)
    theirs = UvicornAccessFormatter(fmt=access_log.UVICORN_ACCESS_FORMAT, use_colors=False)
    args = (client, method, path, version, status)
    assert ours.format(_record(args, level)) == theirs.format(_record(args, level))


def test_colours_and_other_templates_are_left_to_uvicorn() -> None:
    args = ("127.0.0.1:1", "GET", "/x", "1.1", 404)
    for fmt, colours in ((access_log.UVICORN_ACCESS_FORMAT, True), ("%(status_code)s %(request_line)s", False)):
        ours = access_log.AccessFormatter(fmt=fmt, use_colors=colours)
        theirs = UvicornAccessFormatter(fmt=fmt, use_colors=colours)
        assert ours.format(_record(args)) == theirs.format(_record(args))
    assert "\x1b[" in access_log.AccessFormatter(fmt=access_log.UVICORN_ACCESS_FORMAT, use_colors=True).format(
        _record(args)
    )


def test_the_servers_log_configuration_differs_from_uvicorns_only_in_the_access_formatter() -> None:
    config = access_log.log_config()
    assert config["formatters"]["access"]["()"] == "api.access_log.AccessFormatter"
    config["formatters"]["access"]["()"] = LOGGING_CONFIG["formatters"]["access"]["()"]
    assert config == LOGGING_CONFIG
    assert LOGGING_CONFIG["formatters"]["access"]["()"] == "uvicorn.logging.AccessFormatter"  # not mutated
