"""Create / edit forms of the registers, described by the API itself (``GET {prefix}/form-schema``).

The web form (viz/web/src/components/RegisterForm.vue) is generated from this answer, so a
register's labels, enum options, required fields, references and workflow actions live in one
place, the API, instead of being copied into the browser:

* ``create`` / ``update``: the JSON Schemas the API validates the bodies with (the same
  component schemas as ``/openapi.json``), Chinese titles included;
* ``labels``: the register's Chinese field labels (also the import / export column headers);
* ``references``: id fields naming a record of another register, with that register's URL
  prefix and the field that names its records, so the form offers a searchable picker;
* ``actions``: what the *current user's* roles allow: create, update, delete and the
  register's workflow moves (``POST {prefix}/{record_id}/<move>`` routes without a body, e.g.
  审核), each with its Chinese title;
* ``choices``: options of a field inside a list of rows, keyed ``"<list>.<field>"`` (a hazard
  source's ``chemicals.name``: the 85 chemicals of GB 18218 Table 1, found by Chinese name,
  alias or CAS number; ``chemicals.categories``: the Table 2 hazard categories). They come
  from the same tables the API validates with, so the picker never offers a name the API
  would refuse; a name not offered can still be typed (a chemical Table 1 does not list).

``register_router`` adds the route to every register before its ``/{record_id}`` routes.

This module has no ``from __future__ import annotations``: FastAPI reads the annotations.
"""

import re
import typing
from collections.abc import Callable, Iterator
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.auth import SignedInUser, permission_of, require
from models.hazard_identification import EXTRA_CAS, EXTRA_NAMES, TABLE_1_ROWS, TABLE_2, beta_or_none
from registers.framework.service import Register
from registers.hazard_sources.schemas import ChemicalAmount
from registers.permissions import can

__all__ = ["FormSchemaRead", "add_form_route", "form_schema"]

# register name -> URL prefix, filled as routers are built (a reference names a model; the
# picker needs the prefix of the register that keeps it)
_PREFIXES: dict[str, str] = {}

# moves every register has, offered by the page itself (restore) or by other means (files)
_NOT_WORKFLOW = frozenset({"restore", "attachments", "history"})

# the field that names a record in a picker, in order of preference
_NAME_FIELDS = ("name", "title", "code", "number", "credit_code")


class ReferenceRead(BaseModel):
    """An id field's register: where to search it and which field names its records."""

    prefix: str
    label_field: str
    title: str


class ActionRead(BaseModel):
    """A workflow move on one record: ``POST {prefix}/{record_id}/{name}``."""

    name: str
    title: str


class ChoiceRead(BaseModel):
    """One option of a field inside a list of rows (a chemical of Table 1, a Table 2 category).

    ``keywords`` are what a typed text is matched against (name, aliases, CAS numbers);
    ``fill`` are values of the row's other fields set when the option is chosen and they are
    empty (the CAS number); ``placeholders`` are shown in the row's other fields as what the
    API will derive when they are left blank (Q and β from the tables).
    """

    value: str
    label: str
    hint: str = ""
    keywords: list[str] = []
    fill: dict[str, str] = {}
    placeholders: dict[str, str] = {}


class FormSchemaRead(BaseModel):
    """What a create / edit form needs: the JSON Schemas the API validates with and the Chinese labels."""

    title: str
    create: dict[str, Any]
    update: dict[str, Any]
    labels: dict[str, str]
    references: dict[str, ReferenceRead] = {}
    can_create: bool = False
    can_update: bool = False
    can_delete: bool = False
    actions: list[ActionRead] = []
    choices: dict[str, list[ChoiceRead]] = {}


def _number(value: float) -> str:
    """5.0 -> "5", 0.5 -> "0.5": as the standard prints it."""
    return f"{value:g}"


def _gb18218_choices() -> dict[str, list[ChoiceRead]]:
    """Table 1 chemicals (by name, alias, CAS) for ``name`` and Table 2 categories for ``categories``."""
    chemicals: list[ChoiceRead] = []
    for row in TABLE_1_ROWS:
        extra = EXTRA_NAMES.get(row.seq, ())
        # the name a person writes: 液化石油气, not the row's 液化石油气（含丙烷、丁烷及其混合物）
        value = extra[0] if extra else row.name
        names = list(dict.fromkeys(a for a in (row.name, *row.aliases, *extra) if a != value))
        aliases = [a for a in names if not a.startswith(value)]  # not 液化石油气（含丙烷…）again
        numbers = list(dict.fromkeys((*row.cas, *EXTRA_CAS.get(row.seq, ()))))
        cas = "、".join(row.cas)
        beta = beta_or_none(name=value)
        placeholders = {"critical_t": f"表1：{_number(row.critical_t)}"}
        if beta is not None:
            placeholders["beta"] = f"查表：{_number(beta)}"
        chemicals.append(
            ChoiceRead(
                value=value,
                label=f"{value}（{'、'.join(aliases)}）" if aliases else value,
                hint=f"表1第{row.seq}项 · 临界量 {_number(row.critical_t)} t" + (f" · CAS {cas}" if cas else ""),
                keywords=[value, *names, *numbers],
                fill={"cas": row.cas[0]} if len(row.cas) == 1 else {},
                placeholders=placeholders,
            )
        )
    categories = [
        ChoiceRead(
            value=c.code,
            label=f"{c.code} {c.description}",
            hint=f"临界量 {_number(c.critical_t)} t · β {_number(c.beta)}",
        )
        for c in TABLE_2.values()
    ]
    return {"name": chemicals, "categories": categories}


# Row models whose fields have options, and where the options come from.
_ROW_CHOICES: dict[type[BaseModel], Callable[[], dict[str, list[ChoiceRead]]]] = {ChemicalAmount: _gb18218_choices}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation names (through list[...], Annotated[...], X | None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _choices(register: Register[Any, Any, Any, Any]) -> dict[str, list[ChoiceRead]]:
    out: dict[str, list[ChoiceRead]] = {}
    for name, info in register.create_schema.model_fields.items():
        for model in _models_in(info.annotation):
            provider = _ROW_CHOICES.get(model)
            if provider is not None:
                out.update({f"{name}.{field}": options for field, options in provider().items()})
    return out


def _references(register: Register[Any, Any, Any, Any]) -> dict[str, ReferenceRead]:
    from registers.catalog import all_registers  # every domain imported: only at request time

    out: dict[str, ReferenceRead] = {}
    for name, model in register.references.items():
        target = next((r for r in all_registers() if r.model is model and r.name in _PREFIXES), None)
        if target is None:
            continue
        fields = target.read_schema.model_fields
        label = next((f for f in _NAME_FIELDS if f in fields), "id")
        out[name] = ReferenceRead(prefix=_PREFIXES[target.name], label_field=label, title=target.title)
    return out


def _permissions(dependant: Dependant) -> list[tuple[str, str]]:
    found = [p for p in [permission_of(dependant.call)] if p is not None]
    for sub in dependant.dependencies:
        found.extend(_permissions(sub))
    return found


def _moves(request: Request, prefix: str) -> list[tuple[ActionRead, list[tuple[str, str]]]]:
    """Body-less ``POST {prefix}/{record_id}/<move>`` routes and their permissions (cached per app)."""
    cache: dict[str, list[tuple[ActionRead, list[tuple[str, str]]]]] | None = getattr(
        request.app.state, "register_form_moves", None
    )
    if cache is None:
        cache = {}
        request.app.state.register_form_moves = cache
    if prefix in cache:
        return cache[prefix]
    pattern = re.compile(re.escape(prefix) + r"/\{record_id\}/([a-z_-]+)$")
    found: list[tuple[ActionRead, list[tuple[str, str]]]] = []
    for context in iter_route_contexts(request.app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or "POST" not in (context.methods or ()):
            continue
        match = pattern.match(str(context.path))
        if match is None or match.group(1) in _NOT_WORKFLOW or route.body_field is not None:
            continue
        if any(p.field_info.is_required() for p in route.dependant.query_params):
            continue
        action = ActionRead(name=match.group(1), title=route.summary or match.group(1))
        found.append((action, _permissions(context.dependant)))
    cache[prefix] = found
    return found


def _actions(request: Request, prefix: str, roles: list[str]) -> list[ActionRead]:
    """The workflow moves of the register the roles may make."""
    return [a for a, perms in _moves(request, prefix) if all(can(roles, act, res) for act, res in perms)]


def form_schema(register: Register[Any, Any, Any, Any]) -> FormSchemaRead:
    """The register's create / update schemas, labels and references (no user-specific part)."""
    return FormSchemaRead(
        title=register.title,
        create=register.create_schema.model_json_schema(),
        update=register.update_schema.model_json_schema(),
        # every field the register names (the drawer and the history show derived ones too)
        labels={**register.labels, **{name: register.label(name) for name in register.create_schema.model_fields}},
        references=_references(register),
        choices=_choices(register),
    )


@cache
def _static_form(register: Register[Any, Any, Any, Any]) -> FormSchemaRead:
    """The part every caller shares, built once per register (JSON Schema generation costs ms)."""
    return form_schema(register)


def _endpoint(register: Register[Any, Any, Any, Any], prefix: str, resource: str) -> Callable[..., FormSchemaRead]:
    def form(request: Request, user: Annotated[SignedInUser, Depends(require("read", resource))]) -> FormSchemaRead:
        """JSON Schemas, Chinese labels, references and the caller's allowed actions of the register's form."""
        roles = user.role_names
        return _static_form(register).model_copy(
            update={
                "can_create": can(roles, "create", resource),
                "can_update": can(roles, "update", resource),
                "can_delete": can(roles, "delete", resource),
                "actions": _actions(request, prefix, roles),
            }
        )

    return form


def add_form_route(router: APIRouter, register: Register[Any, Any, Any, Any], *, prefix: str, resource: str) -> None:
    """Add ``GET {prefix}/form-schema`` to a register's router (before its ``/{record_id}`` routes).

    Readers of the register may fetch its form (it holds no data); saving still needs the
    create / update permission, checked by the register's own routes.
    """
    _PREFIXES.setdefault(register.name, prefix)
    router.add_api_route(
        "/form-schema",
        _endpoint(register, prefix, resource),
        methods=["GET"],
        response_model=FormSchemaRead,
        summary=f"{register.title}表单定义",
        name=f"{register.name}_form_schema",
    )
