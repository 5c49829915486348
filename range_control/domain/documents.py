"""What a deliverable's bytes are, checked for what its extension claims (pure: bytes in, a
verdict out; nothing is written).

Office documents are zip containers, and "starts with PK" says nothing: a zip bomb or a zip of
an executable would pass. An OOXML document (docx, xlsx, pptx) must hold
``[Content_Types].xml`` declaring the main part of its kind, and that part; an ODF document
(odt) must hold a first entry named ``mimetype``, stored uncompressed, whose content is its
media type. Any container is refused past a number of entries, a total uncompressed size or a
compression ratio (counted while decompressing: sizes in a zip's directory can lie), or when
it holds an executable or another archive. A refusal names its reason.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from range_control.core.errors import Explained

MAGIC = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
}
TEXT_TYPES = ("txt", "md", "csv")

# The main part of each OOXML kind, and the content type [Content_Types].xml gives it.
OOXML = {
    "docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
}
ODF = {"odt": "application/vnd.oasis.opendocument.text"}
CONTENT_TYPES = "[Content_Types].xml"
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"


@dataclass(frozen=True)
class Limits:
    entries: int = 2000
    total_bytes: int = 200 * 2**20  # uncompressed, every entry together
    ratio: int = 200  # uncompressed / compressed, per entry of more than RATIO_FLOOR bytes
    ratio_floor: int = 1 << 20
    xml_bytes: int = 2 << 20  # [Content_Types].xml, read as XML


LIMITS = Limits()

# Inside a document: nothing that runs, no archive within the archive.
_RUNNABLE = (
    ".exe",
    ".dll",
    ".com",
    ".scr",
    ".msi",
    ".bat",
    ".cmd",
    ".ps1",
    ".vbs",
    ".vbe",
    ".js",
    ".jse",
    ".wsf",
    ".hta",
    ".jar",
    ".sh",
    ".elf",
    ".so",
    ".dylib",
    ".app",
    ".lnk",
    ".cpl",
)
_ARCHIVES = (
    ".zip",
    ".7z",
    ".rar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".tar",
    ".cab",
    ".iso",
    ".docx",
    ".xlsx",
    ".pptx",
    ".odt",
    ".ods",
    ".odp",
    ".docm",
    ".xlsm",
    ".pptm",
)
_RUNNABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"MSCF")


def check(ext: str, data: bytes, limits: Limits = LIMITS) -> None:
    """Refuse (``Explained``) when ``data`` is not a ``ext`` file; None when it is."""
    if ext in TEXT_TYPES:
        _text(data)
    elif ext in OOXML or ext in ODF:
        _container(ext, data, limits)
    elif not data.startswith(MAGIC[ext]):
        raise Explained("is not a {ext} file (its content says otherwise)", ext=ext)


def _text(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Explained("is not UTF-8 text") from None
    if "\x00" in text:
        raise Explained("is not text (it holds NUL bytes)")


def _container(ext: str, data: bytes, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Explained("is not a {ext} file (not a readable zip container)", ext=ext) from None
    if len(entries) > limits.entries:
        raise Explained("holds {n} entries, more than {most}", n=len(entries), most=limits.entries)
    read = _Reader(archive, limits)
    for info in entries:
        _no_payload(info)
        read.whole(info)  # every entry decompressed, within the caps: a bomb stops here
    if ext in ODF:
        _odf(ext, entries, read)
    else:
        _ooxml(ext, archive, read)


def _no_payload(info: zipfile.ZipInfo) -> None:
    name = info.filename.lower()
    if name.endswith(_RUNNABLE):
        raise Explained("holds a program ({name}): refused", name=info.filename[:200])
    if name.endswith(_ARCHIVES):
        raise Explained("holds another archive ({name}): refused", name=info.filename[:200])
    if info.flag_bits & 0x1:
        raise Explained("holds an encrypted entry ({name}): refused", name=info.filename[:200])


class _Reader:
    """Decompresses entries with a running total and a per-entry ratio check."""

    def __init__(self, archive: zipfile.ZipFile, limits: Limits) -> None:
        self.archive, self.limits, self.total = archive, limits, 0
        self.seen: dict[str, bytes] = {}

    def whole(self, info: zipfile.ZipInfo, keep: bool = False) -> bytes:
        """The entry decompressed (kept only with ``keep``), its program or archive refused."""
        limits, out, head, done = self.limits, bytearray(), b"", 0
        try:
            with self.archive.open(info) as fh:
                while chunk := fh.read(1 << 16):
                    head = head or chunk[:8]
                    done += len(chunk)
                    self.total += len(chunk)
                    if self.total > limits.total_bytes:
                        raise Explained(
                            "unpacks to more than {most} bytes (a zip bomb?): refused",
                            most=limits.total_bytes,
                        )
                    if done > limits.ratio_floor and done > limits.ratio * max(
                        info.compress_size, 1
                    ):
                        raise Explained(
                            "has an entry {name} compressed more than {ratio} to 1 (a zip bomb?): "
                            "refused",
                            name=info.filename[:200],
                            ratio=limits.ratio,
                        )
                    if keep:
                        out += chunk
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError):
            raise Explained(
                "has an entry {name} that cannot be read (damaged, or an unknown compression)",
                name=info.filename[:200],
            ) from None
        if not info.is_dir() and head.startswith(_RUNNABLE_MAGIC):
            raise Explained("holds a program ({name}): refused", name=info.filename[:200])
        if not info.is_dir() and head.startswith(_ARCHIVE_MAGIC):
            raise Explained("holds another archive ({name}): refused", name=info.filename[:200])
        return bytes(out)

    def text(self, info: zipfile.ZipInfo) -> bytes:
        if info.file_size > self.limits.xml_bytes:
            raise Explained("has a {name} too large to read", name=info.filename[:200])
        return self.whole(info, keep=True)


def _ooxml(ext: str, archive: zipfile.ZipFile, read: _Reader) -> None:
    main, content_type = OOXML[ext]
    names = {i.filename: i for i in archive.infolist()}
    if CONTENT_TYPES not in names:
        raise Explained("is not a {ext} file (no {part})", ext=ext, part=CONTENT_TYPES)
    if main not in names:
        raise Explained("is not a {ext} file (no {part})", ext=ext, part=main)
    xml = read.text(names[CONTENT_TYPES])
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        # OOXML's parts never declare a DTD; refusing one leaves the parser no entity to expand.
        raise Explained("is not a {ext} file ({part} declares a DTD)", ext=ext, part=CONTENT_TYPES)
    try:
        # Safe on this input: no DTD (refused above), bounded size (Limits.xml_bytes), and
        # ElementTree resolves no external entity.
        root = ElementTree.fromstring(xml)  # noqa: S314
    except ElementTree.ParseError:
        raise Explained(
            "is not a {ext} file ({part} is not XML)", ext=ext, part=CONTENT_TYPES
        ) from None
    declared = {
        (o.get("PartName") or "").lstrip("/"): o.get("ContentType")
        for o in root.iter(f"{_CT_NS}Override")
    }
    if declared.get(main) != content_type:
        raise Explained(
            "is not a {ext} file ({part} does not declare its main part as one)",
            ext=ext,
            part=CONTENT_TYPES,
        )


def _odf(ext: str, entries: list[zipfile.ZipInfo], read: _Reader) -> None:
    first = entries[0] if entries else None
    if first is None or first.filename != "mimetype" or first.compress_type != zipfile.ZIP_STORED:
        raise Explained("is not a {ext} file (its first entry must be 'mimetype', stored)", ext=ext)
    if read.text(first).strip() != ODF[ext].encode():
        raise Explained("is not a {ext} file (its mimetype says otherwise)", ext=ext)
