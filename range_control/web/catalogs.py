"""The message catalogs of the product's strings, kept with Babel's own tools (its Python API:
the extractor list is not something a ``babel.cfg`` file can say).

    python -m range_control.web.catalogs update    # extract every string, merge into each .po
    python -m range_control.web.catalogs compile   # .po -> the .mo files Flask-Babel reads
    python -m range_control.web.catalogs check     # every string translated, .mo up to date
    python -m range_control.web.catalogs init de   # start a new language

Strings are found in the templates (``_``, ``gettext``, ``ngettext``), in Python
(``gettext``, ``ngettext``, ``N_``) and in every error a service raises: the classes of
``range_control.core.errors`` are extraction keywords, so ``NotFound("team {ref!r} not found",
ref=ref)`` is in the catalog as written.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from range_control.core import errors
from range_control.core.languages import CATALOGS, SOURCE_LANGUAGE, languages

ROOT = CATALOGS.parent.parent  # the range_control package (in the repository or site-packages)
DOMAIN = "messages"
HEADER = "Range Control: pages, API error messages"


def keywords() -> dict[str, object]:
    kw: dict[str, object] = dict(DEFAULT_KEYWORDS)
    kw["N_"] = None
    for name, cls in vars(errors).items():
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError | errors.Explained):
            kw[name] = None  # the first argument
    return kw


# Where strings are, per package: (files, Babel's extraction method).
SOURCES = {
    "": [("web/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")],
}
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def new_catalog(lang: str | None = None) -> Catalog:
    return Catalog(locale=lang, project="Range Control", header_comment=f"# {HEADER}")


def translated_languages() -> list[str]:
    """The languages with a catalog (English, the source, has none)."""
    return [lang for lang in languages() if lang != SOURCE_LANGUAGE]


def extract() -> Catalog:
    catalog = new_catalog()
    kw = keywords()
    for sub, method_map in SOURCES.items():
        found = extract_from_dir(
            ROOT / sub,
            method_map=method_map,
            options_map=OPTIONS,
            keywords=kw,
            comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        )
        for filename, lineno, message, comments, context in found:
            first = message[0] if isinstance(message, tuple) else message
            if not any(ch.isalpha() for ch in placeholder_free(first or "")):
                continue  # "; ".join(...) inside a raise, "{problems}": nothing to translate
            catalog.add(
                message,
                None,
                [(f"{sub}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def po_path(lang: str) -> Path:
    return CATALOGS / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def write(lang: str, catalog: Catalog) -> None:
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, omit_header=False, sort_output=False, ignore_obsolete=True)
    po_path(lang).write_bytes(buf.getvalue())


def update() -> None:
    template = extract()
    for lang in translated_languages():
        catalog = read(lang)
        catalog.update(template, no_fuzzy_matching=False)
        write(lang, catalog)
        print(f"{po_path(lang)}: {len(catalog)} strings, {len(untranslated(catalog))} to do")


def compile_all() -> None:
    for lang in translated_languages():
        buf = io.BytesIO()
        write_mo(buf, read(lang), use_fuzzy=False)
        po_path(lang).with_suffix(".mo").write_bytes(buf.getvalue())


def init(lang: str) -> None:
    path = po_path(lang)
    if path.exists():
        raise SystemExit(f"{path} exists already")
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog = new_catalog(lang)
    catalog.update(extract())
    write(lang, catalog)
    print(f"{path}: {len(catalog)} strings to translate")


_PERCENT = re.compile(r"%\((\w+)\)[sdfg]")
_BRACES = re.compile(r"(?<!\{)\{(\w+)(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def placeholders(text: str) -> set[str]:
    return set(_PERCENT.findall(text)) | set(_BRACES.findall(text))


def placeholder_free(text: str) -> str:
    return _BRACES.sub("", _PERCENT.sub("", text))


def _strings(message: Message) -> Iterator[tuple[str, str]]:
    ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
    strs = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    for i, s in enumerate(strs):
        yield ids[min(i, len(ids) - 1)], s or ""


def _incomplete(m: Message) -> bool:
    """Fuzzy, or a form without its translation."""
    return m.fuzzy or any(not s for _, s in _strings(m))


def untranslated(catalog: Catalog) -> list[str]:
    return [str(m.id) for m in catalog if m.id and _incomplete(m)]


def problems(lang: str) -> list[str]:
    """What stops ``lang`` from being complete: strings of the code missing from its catalog,
    empty or fuzzy entries, a placeholder the translation drops or invents, a stale .mo."""
    out: list[str] = []
    catalog = read(lang)
    for m in extract():
        if not m.id:
            continue
        found = catalog.get(m.id, m.context)
        if found is None:
            out.append(f"{lang}: missing (run `update`): {m.id!r}")
            continue
        if _incomplete(found):
            out.append(f"{lang}: not translated{' (fuzzy)' if found.fuzzy else ''}: {m.id!r}")
            continue
        for source, text in _strings(found):
            if placeholders(source) != placeholders(text) and "%(num)d" not in source:
                out.append(f"{lang}: placeholders differ: {source!r} -> {text!r}")
    mo = po_path(lang).with_suffix(".mo")
    if not mo.exists():
        out.append(f"{lang}: {mo} is missing (run `compile`)")
    else:
        with mo.open("rb") as f:
            compiled = read_mo(f)
        for m in (m for m in catalog if m.id and not m.fuzzy):
            found = compiled.get(m.id, m.context)
            if found is None or list(_strings(found)) != list(_strings(m)):
                out.append(f"{lang}: {mo.name} is older than the .po (run `compile`)")
                break
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
    elif argv[:1] == ["compile"]:
        compile_all()
    elif argv[:1] == ["init"] and len(argv) == 2:
        init(argv[1])
    elif argv[:1] == ["check"]:
        found = [p for lang in translated_languages() for p in problems(lang)]
        for p in found:
            print(p)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
