"""A deliverable's bytes checked for what its extension claims: real office documents written
by maintained writers (python-docx, openpyxl, odfpy) pass; a zip bomb, a zip of a program, a
nested archive, an encrypted entry, a truncated file and a zip that merely starts with "PK"
are refused with their reason."""

from __future__ import annotations

import io
import zipfile

import docx
import openpyxl
import pytest
from odf.opendocument import OpenDocumentText
from odf.text import P

from range_control.core.errors import Explained
from range_control.domain import documents


def real_docx() -> bytes:
    doc = docx.Document()
    doc.add_paragraph("SITREP: all quiet on the range.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def real_xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "indicator"
    book.active["B1"] = 42
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def real_odt() -> bytes:
    doc = OpenDocumentText()
    doc.text.addElement(P(text="SITREP: all quiet on the range."))
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()


def with_entry(
    data: bytes, name: str, content: bytes, compress: int = zipfile.ZIP_DEFLATED
) -> bytes:
    """A copy of the document ``data`` with one more entry."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(zipfile.ZipInfo(name), content, compress_type=compress, compresslevel=9)
    return out.getvalue()


def refusal(ext: str, data: bytes, **limits: int) -> str:
    with pytest.raises(Explained) as exc:
        documents.check(ext, data, documents.Limits(**limits))
    return str(exc.value)


@pytest.mark.parametrize(
    ("ext", "make"), [("docx", real_docx), ("xlsx", real_xlsx), ("odt", real_odt)]
)
def test_real_office_documents_pass(ext, make) -> None:
    documents.check(ext, make())


def test_a_zip_bomb_is_refused_while_it_unpacks() -> None:
    # 100 MiB of zeros in about 100 kB, inside an otherwise real Word file.
    bomb = with_entry(real_docx(), "word/media/blank.bin", bytes(100 * 2**20))
    assert len(bomb) < 200_000
    assert "compressed more than 200 to 1 (a zip bomb?)" in refusal("docx", bomb)
    # Many entries each under the ratio still stop at the total.
    spread = real_docx()
    for i in range(3):
        spread = with_entry(spread, f"word/media/{i}.bin", bytes(2 * 2**20))
    assert "unpacks to more than" in refusal("docx", spread, total_bytes=4 * 2**20, ratio=10**6)
    assert "more than 5" in refusal("docx", real_docx(), entries=5)


def test_a_zip_that_only_starts_like_a_document_is_refused() -> None:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("payload.txt", "hello")
    assert "is not a docx file (no [Content_Types].xml)" in refusal("docx", plain.getvalue())
    # An xlsx is not a docx: its content types declare another main part.
    assert "is not a docx file" in refusal("docx", real_xlsx())
    assert "first entry must be 'mimetype'" in refusal("odt", real_docx())
    assert "is not a odt file (not a readable zip container)" in refusal("odt", b"PK\x03\x04junk")


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("setup.exe", b"MZ\x90\x00" + bytes(100), "holds a program (setup.exe)"),
        (
            "word/media/image1.png",
            b"MZ\x90\x00" + bytes(100),
            "holds a program (word/media/image1.png)",
        ),
        ("run.sh", b"#!/bin/sh\nid\n", "holds a program (run.sh)"),
        ("inner.zip", b"PK\x03\x04" + bytes(30), "holds another archive (inner.zip)"),
        ("word/embeddings/x.bin", b"PK\x03\x04" + bytes(30), "holds another archive"),
    ],
)
def test_programs_and_archives_inside_are_refused(name, content, said) -> None:
    assert said in refusal("docx", with_entry(real_docx(), name, content))


def test_an_encrypted_entry_and_a_truncated_file_are_refused() -> None:
    data = bytearray(with_entry(real_docx(), "secret.txt", b"x" * 100, zipfile.ZIP_STORED))
    # Set the encryption bit of the last entry in the central directory.
    at = data.rfind(b"PK\x01\x02")
    data[at + 8] |= 0x1
    assert "holds an encrypted entry (secret.txt)" in refusal("docx", bytes(data))
    whole = real_docx()
    assert "not a readable zip container" in refusal("docx", whole[: len(whole) // 2])


def test_a_dtd_in_the_content_types_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real_docx())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml":
                body = (
                    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                    + body.split(b"?>", 1)[1]
                )
            dst.writestr(info, body)
    assert "declares a DTD" in refusal("docx", out.getvalue())


def test_other_types_by_their_content() -> None:
    documents.check("pdf", b"%PDF-1.7\n")
    documents.check("md", "# Rapport de situation é\n".encode())
    assert "is not a pdf file" in refusal("pdf", b"<html>")
    assert "is not UTF-8 text" in refusal("txt", b"\xff\xfe")
    assert "NUL" in refusal("csv", b"a,b\x00")
