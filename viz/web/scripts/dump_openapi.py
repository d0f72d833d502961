"""Dump the part of the API's OpenAPI document the register pages use, for the web UI's TypeScript types.

Run with the project's Python (``npm run openapi:dump`` in viz/web does): it builds the app
without its runtime, keeps the paths of the registers the web UI lists (the ``prefix`` of
each entry of ``src/registers.ts``, the 包保 reports included under 重大危险源's prefix) and
the component schemas those paths reach, and writes ``viz/web/openapi.json``. ``npm run gen:types`` (run by ``npm run
build``) turns that file into ``src/apiSchema.ts`` with openapi-typescript, offline.

The whole document is ~1.5 MB (every domain's routes); the registers' part is what the pages
typed against it need. ``tests/api/test_openapi_types.py`` fails when the checked-in file is
no longer what the API describes, so the types cannot drift from the API silently.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parents[1]
OUTPUT = WEB / "openapi.json"
REGISTERS_TS = WEB / "src" / "registers.ts"
# an entry's own prefix (four spaces in), not a column's reference to another register
_PREFIX = re.compile(r"^ {4}prefix: '(/api/[^']+)',$", re.MULTILINE)


def ui_prefixes() -> tuple[str, ...]:
    """URL prefixes of the registers the web UI lists."""
    return tuple(_PREFIX.findall(REGISTERS_TS.read_text(encoding="utf-8")))


def _refs(node: Any) -> set[str]:
    """Names of the component schemas a piece of the document refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def register_subset(document: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The paths of ``document`` under ``prefixes`` and the schemas they reach (transitively)."""
    paths: dict[str, Any] = document["paths"]
    kept = {
        path: item
        for path, item in sorted(paths.items())
        if any(path == p or path.startswith(f"{p}/") for p in prefixes)
    }
    schemas: dict[str, Any] = document["components"]["schemas"]
    wanted, todo = set(), _refs(kept)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo |= _refs(schemas[name]) - wanted
    components: dict[str, Any] = {"schemas": {n: schemas[n] for n in sorted(wanted)}}
    if "securitySchemes" in document["components"]:
        components["securitySchemes"] = document["components"]["securitySchemes"]
    return {
        "openapi": document["openapi"],
        "info": {**document["info"], "description": "SafeTwin register API (the web UI's generated types)"},
        "paths": kept,
        "components": components,
    }


def current_document() -> dict[str, Any]:
    """The register subset of the API as the code now describes it."""
    from api.app import create_app
    from api.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(environment="test", data_dir=Path(folder), database_url=f"sqlite:///{folder}/dump.db")
        return register_subset(create_app(settings, start_runtime=False).openapi(), ui_prefixes())


def render(document: dict[str, Any]) -> str:
    """The file's text: stable key order, so a diff shows what the API changed."""
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(current_document()), encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT}\n")
