"""Files attached to register records (扫描件、报告原件): a storage interface and its local-disk form.

The bytes go to an :class:`AttachmentStorage` (local disk under ``<data_dir>/uploads`` in
embedded mode; an object store can implement the same three methods), the metadata to the
shared ``register_attachments`` table. Keys are the content's SHA-256, so nothing is ever
overwritten, the same scan uploaded twice is stored once, and no user-supplied name reaches
the file system. Attaching a file is a change of the record: its version goes up and history
says who attached what.

Example:
    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("安全生产许可证 扫描件.pdf")
    '安全生产许可证_扫描件.pdf'
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.framework.models import Attachment
from registers.framework.service import RecordNotFound, Register, RegisterError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "AttachmentStorage",
    "AttachmentTooLarge",
    "AttachmentTypeRefused",
    "LocalStorage",
    "add_attachment",
    "get_attachment",
    "list_attachments",
    "read_attachment",
    "safe_filename",
    "sniff_content_type",
    "storage_for_data_dir",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # a scanned licence or a 300-page evaluation report fits


class AttachmentTypeRefused(RegisterError):
    """The bytes are not one of the allowed kinds (PDF, images, Office files, plain text)."""

    def __init__(self, filename: str) -> None:
        super().__init__(
            f"不支持的文件类型 / file type not allowed: {filename}; "
            "allowed: PDF, JPEG/PNG/GIF/WebP, MP4, Office (docx/xlsx/pptx/doc/xls), ZIP, plain text or CSV"
        )


_OOXML = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_OLE = {"doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# Text a browser would run if it ever rendered it: refused even as "plain text".
_ACTIVE_TEXT = ("<!doctype", "<html", "<script", "<svg", "<?xml", "<iframe", "<object", "#!")


def sniff_content_type(content: bytes, filename: str = "") -> str | None:
    """The content type the bytes really are, from their first bytes; ``None`` when not allowed.

    Why sniff and not trust the upload: the client's ``Content-Type`` is whatever it says.
    Echoing ``text/html`` back on download turns an attachment into stored XSS, and an
    ``.exe`` renamed ``.pdf`` would be handed to the next reader. Downloads are served
    with the type found here, never the one the client sent.
    """
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[4:8] == b"ftyp":
        return "video/mp4"
    if content.startswith(b"PK\x03\x04"):
        return _OOXML.get(ext, "application/zip")
    if content.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE.get(ext, "application/octet-stream")
    if b"\x00" in content:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.lstrip("\ufeff \t\r\n").lower().startswith(_ACTIVE_TEXT):
            return None
        kind = "text/csv" if ext == "csv" else "text/plain"
        return f"{kind}; charset={'utf-8' if encoding == 'utf-8' else 'gb18030'}"
    return None


class AttachmentTooLarge(RegisterError):
    """The file exceeds the size limit: 413."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"附件过大 / attachment of {size} bytes exceeds the limit of {limit} bytes")


class AttachmentStorage(Protocol):
    """Where attachment bytes live; keys are opaque strings chosen by this module."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (idempotent: the key is the content hash)."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; ``KeyError`` if absent."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""


class LocalStorage:
    """Attachments as files under ``root`` (``<data_dir>/uploads``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{64}", key):
            msg = f"invalid storage key {key!r}"
            raise KeyError(msg)
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Write via a temporary file and rename, so a crash never leaves half a file."""
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """Read a stored file."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as err:
            raise KeyError(key) from err

    def exists(self, key: str) -> bool:
        """Whether the file is there."""
        return self._path(key).exists()


def storage_for_data_dir(data_dir: Path) -> LocalStorage:
    """The embedded mode's storage: ``<data_dir>/uploads`` (``Settings.data_dir``)."""
    return LocalStorage(Path(data_dir) / "uploads")


def safe_filename(name: str, *, max_length: int = 200) -> str:
    """A display name that is safe in a header and on any disk: no path, no control characters.

    Keeps Chinese characters; replaces whitespace and separators with ``_``.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[\s\"'<>:|?*;]+", "_", name).strip("._ ")
    if not name:
        return "attachment"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: max_length - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:max_length]
    return name


def add_attachment(
    register: Register[Any, Any, Any, Any],
    *,
    session: Session,
    storage: AttachmentStorage,
    record_id: int,
    filename: str,
    content: bytes,
    content_type: str | None,
    actor: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Attachment:
    """Store a file and attach it to a live record; the record's version goes up.

    ``content_type`` (the client's claim) is not trusted: the stored type is the sniffed one.

    Raises:
        RecordNotFound: unknown or deleted record.
        AttachmentTooLarge: more than ``max_bytes``.
        AttachmentTypeRefused: not an allowed kind of file (see :func:`sniff_content_type`).
    """
    if len(content) > max_bytes:
        raise AttachmentTooLarge(len(content), max_bytes)
    sniffed = sniff_content_type(content, filename)
    if sniffed is None:
        raise AttachmentTypeRefused(safe_filename(filename))
    record = register.get_for_change(session=session, record_id=record_id)
    digest = hashlib.sha256(content).hexdigest()
    key = f"{digest[:2]}/{digest}"
    storage.put(key, content)
    attachment = Attachment(
        register=register.name,
        record_id=record_id,
        filename=safe_filename(filename),
        content_type=sniffed[:127],
        size=len(content),
        sha256=digest,
        storage_key=key,
        uploaded_by=actor,
        uploaded_at=utcnow(),
    )
    session.add(attachment)
    record.version += 1
    record.updated_by, record.updated_at = actor, utcnow()
    session.flush()
    register.record_history(
        session, record, "attach", actor, {"attachments": [None, f"{attachment.filename} ({digest[:12]})"]}
    )
    return attachment


def list_attachments(register: Register[Any, Any, Any, Any], *, session: Session, record_id: int) -> list[Attachment]:
    """The files attached to a record, oldest first."""
    register.get(session=session, record_id=record_id, include_deleted=True)
    stmt = (
        select(Attachment)
        .where(Attachment.register == register.name, Attachment.record_id == record_id)
        .order_by(Attachment.id)
    )
    return list(session.scalars(stmt))


def get_attachment(
    register: Register[Any, Any, Any, Any], *, session: Session, record_id: int, attachment_id: int
) -> Attachment:
    """One attachment of a record.

    Raises:
        RecordNotFound: the attachment does not belong to this register's record.
    """
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.register != register.name or attachment.record_id != record_id:
        raise RecordNotFound(register=f"{register.name} attachment", record_id=attachment_id)
    return attachment


def read_attachment(storage: AttachmentStorage, attachment: Attachment) -> bytes:
    """The attachment's bytes, checked against the stored hash (a corrupted file is refused).

    Raises:
        KeyError: the bytes are missing from storage.
        ValueError: the bytes no longer match their hash.
    """
    data = storage.get(attachment.storage_key)
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        msg = f"attachment {attachment.id} is corrupted: its content no longer matches its hash"
        raise ValueError(msg)
    return data
