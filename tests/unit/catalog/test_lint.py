"""challenge.yml parsing and `challenges validate` lint rules (files in tmp, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from range_control.cli import main
from range_control.services.catalog.lint import lint
from range_control.specs.challenge import ChallengeSpec
from tests.support import REPO


def write(d: Path, data: dict | str, files: dict[str, str] | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "challenge.yml").write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    for name, content in (files or {}).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(content)
    return d


def problems(*paths: Path) -> list[str]:
    return [str(p) for p in lint(list(paths)).problems]


def warnings(*paths: Path) -> list[str]:
    return [str(p) for p in lint(list(paths)).warnings]


def test_ctfcli_format_is_accepted_as_is() -> None:
    # The shape ctfcli writes, dynamic scoring and every optional key included.
    spec = ChallengeSpec.model_validate(
        {
            "name": "Beacon",
            "author": "x",
            "category": "forensics",
            "description": "d",
            "attribution": "a",
            "value": 500,
            "type": "dynamic",
            "extra": {"initial": 500, "decay": 10, "minimum": 100},
            "image": None,
            "protocol": None,
            "host": None,
            "connection_info": "nc host 1337",
            "healthcheck": None,
            "attempts": 5,
            "flags": [
                "ICE{a}",
                {"type": "static", "content": "ICE{b}", "data": "case_insensitive"},
                {"type": "regex", "content": r"ICE\{c+\}"},
            ],
            "topics": ["t"],
            "tags": ["web"],
            "files": [],
            "hints": ["free", {"content": "paid", "cost": 10}],
            "requirements": ["Other"],
            "next": None,
            "state": "hidden",
            "version": "0.1",
        }
    )
    assert spec.resolved_slug == "beacon"
    assert [f.content for f in spec.flags] == ["ICE{a}", "ICE{b}", r"ICE\{c+\}"]
    assert spec.flags[1].case_insensitive and not spec.flags[0].case_insensitive
    assert [(h.content, h.cost) for h in spec.hints] == [("free", 0), ("paid", 10)]
    assert spec.initial_value == 500 and spec.prerequisites == ["Other"]
    req = ChallengeSpec.model_validate(
        {"name": "x", "value": 1, "flags": ["f"], "requirements": {"prerequisites": ["a"]}}
    )
    assert req.prerequisites == ["a"]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    d = write(tmp_path / "typo", {"name": "Typo", "value": 10, "flags": ["x"], "flgas": ["y"]})
    assert problems(d) == [f"{d / 'challenge.yml'}: flgas: unknown key: did you mean 'flags'?"]


def test_nested_errors_name_the_field_path(tmp_path: Path) -> None:
    d = write(
        tmp_path / "c",
        {
            "name": "C",
            "value": 10,
            "flags": ["ok", {"type": "regexp", "content": "x"}, {"type": "regex", "content": "("}],
            "hints": [{"content": "h", "cost": -1}],
        },
    )
    out = problems(d)
    path = d / "challenge.yml"
    assert any(
        line.startswith(f"{path}: flags.1.type: Input should be 'static' or 'regex'")
        for line in out
    ), out
    assert any(line.startswith(f"{path}: flags.2: regex does not compile") for line in out), out
    assert any(line.startswith(f"{path}: hints.0.cost: ") for line in out), out


def test_dynamic_scoring_needs_extra_and_coherent_values(tmp_path: Path) -> None:
    d1 = write(tmp_path / "a", {"name": "A", "type": "dynamic", "flags": ["x"]})
    d2 = write(
        tmp_path / "b",
        {
            "name": "B",
            "type": "dynamic",
            "flags": ["x"],
            "extra": {"initial": 100, "decay": 5, "minimum": 200},
        },
    )
    # Logarithmic decay 0 loads, as in CTFd (read as 1: domain/scoring.py).
    d3 = write(
        tmp_path / "c",
        {
            "name": "C",
            "type": "dynamic",
            "flags": ["x"],
            "extra": {"initial": 100, "decay": 0, "minimum": 10},
        },
    )
    out = problems(d1, d2, d3)
    assert any("type 'dynamic' needs extra" in line for line in out), out
    assert any("extra: minimum must not exceed initial" in line for line in out), out
    assert len(out) == 2, out


def test_files_must_exist_stay_inside_and_not_carry_the_flag(tmp_path: Path) -> None:
    d = write(
        tmp_path / "f",
        {
            "name": "F",
            "value": 10,
            "flags": ["ICE{secret}", {"type": "regex", "content": r"GRID-\d{4}"}],
            "files": [
                "files/ok.txt",
                "files/leak.txt",
                "files/missing.txt",
                "../outside.txt",
                "files/grid.txt",
            ],
        },
        {
            "files/ok.txt": "nothing here",
            "files/leak.txt": "the flag is ICE{secret}!",
            "files/grid.txt": "GRID-1234",
        },
    )
    (tmp_path / "outside.txt").write_text("x")
    out = problems(d)
    path = d / "challenge.yml"
    assert out == [
        f"{path}: files.2: 'files/missing.txt' does not exist",
        f"{path}: files.3: '../outside.txt' is outside the challenge directory",
    ]
    # A flag inside a distributed file may be intended (beginners' forensics): a warning.
    silence = "(if intended, set flag_in_files: allowed)"
    assert warnings(d) == [
        f"{path}: files.1: 'files/leak.txt' contains a static flag: every team can read it "
        + silence,
        f"{path}: files.4: 'files/grid.txt' contains a regex flag: every team can read it "
        + silence,
    ]
    spec = yaml.safe_load((d / "challenge.yml").read_text())
    write(d, {**spec, "flag_in_files": "allowed"})
    assert warnings(d) == []


def test_dynamic_flag_shape_in_a_file_is_caught(tmp_path: Path) -> None:
    d = write(
        tmp_path / "dyn",
        {
            "name": "Dyn",
            "value": 10,
            "dynamic_flag": {"prefix": "CIOR", "length": 16},
            "files": ["notes.txt"],
        },
        {"notes.txt": "test flag: CIOR{0123456789abcdef}"},
    )
    assert problems(d) == []
    assert warnings(d) == [
        f"{d / 'challenge.yml'}: files.0: 'notes.txt' contains a flag of the dynamic_flag shape: "
        "every team can read it (if intended, set flag_in_files: allowed)"
    ]


def test_unique_slugs_and_known_requirements_across_a_tree(tmp_path: Path) -> None:
    write(tmp_path / "x" / "one", {"name": "Same Name", "value": 1, "flags": ["a"]})
    write(
        tmp_path / "y" / "two",
        {"name": "Same name", "value": 1, "flags": ["b"], "requirements": ["ghost"]},
    )
    out = problems(tmp_path)
    one, two = tmp_path / "x" / "one" / "challenge.yml", tmp_path / "y" / "two" / "challenge.yml"
    assert (
        f"{two}: slug: 'same-name' (from the name 'Same name') is also the slug of {one}: "
        "set slug: to tell them apart"
    ) in out, out
    assert any(
        "requirements.0: 'ghost' is not a challenge in this set nor in the database" in line
        for line in out
    ), out


def test_bad_yaml_and_non_mapping(tmp_path: Path) -> None:
    a = write(tmp_path / "a", "name: [unclosed\n")
    b = write(tmp_path / "b", "- just\n- a list\n")
    out = problems(a, b)
    assert out[0].startswith(f"{a / 'challenge.yml'}: line ") and "not valid YAML" in out[0]
    assert out[1] == f"{b / 'challenge.yml'}: must be a YAML mapping of keys to values"


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["challenges", "validate", str(REPO / "challenges")])
    assert good.exit_code == 0, good.output
    write(tmp_path / "bad", {"name": "Bad", "value": 1, "flags": ["x"], "valeu": 3})
    bad = runner.invoke(main, ["challenges", "validate", str(tmp_path)])
    assert bad.exit_code == 1
    assert (
        f"{tmp_path / 'bad' / 'challenge.yml'}: valeu: unknown key: did you mean 'value'?"
        in bad.output
    )
    missing = runner.invoke(main, ["challenges", "validate", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "no such file or directory" in missing.output


def test_environment_errors_name_challenge_service_and_field(tmp_path: Path) -> None:
    d = write(
        tmp_path / "live",
        {
            "name": "Live",
            "value": 10,
            "dynamic_flag": {"prefix": "ICE"},
            "environment": {
                "services": [
                    {"name": "web", "build": "src/web", "memory": "lots", "cap_add": ["SYS_ADMIN"]},
                    {"name": "db", "image": "range/base:bookworm", "build": "x"},
                    {"name": "pub", "image": "range/base:bookworm", "exposure": "published"},
                    {"name": "files", "build": "src/missing"},
                    {
                        "name": "flagged",
                        "image": "i",
                        "flag": {"file": "flag"},
                        "tmpfs": {"tmp": ""},
                    },
                ]
            },
        },
        {"src/web/Dockerfile": "FROM range/base:bookworm\n"},
    )
    out = problems(d)
    path = d / "challenge.yml"
    joined = "\n".join(out)
    assert f"{path}: environment.services.web.memory: 'lots' is not a size such as 64m or 1g" in out
    assert f"{path}: environment.services.web.cap_add: 'SYS_ADMIN' is not allowed" in joined
    assert f"{path}: environment.services.db: give exactly one of build" in joined
    assert (
        f"{path}: environment.services.pub: exposure 'published' needs at least one port" in joined
    )
    assert (
        f"{path}: environment.services.flagged.flag.file: 'flag' must be an absolute path" in joined
    )
    assert f"{path}: environment.services.flagged.tmpfs: 'tmp' must be an absolute path" in joined
    # Once the schema passes, build contexts are checked on disk.
    spec = yaml.safe_load((d / "challenge.yml").read_text())
    spec["environment"]["services"] = [
        {"name": "files", "build": "src/missing"},
        {"name": "web", "build": "src/web", "dockerfile": "Other"},
    ]
    write(d, spec)
    assert problems(d) == [
        f"{path}: environment.services.files.build: 'src/missing' is not a directory inside the challenge",
        f"{path}: environment.services.web.dockerfile: no Other in 'src/web'",
    ]


def test_translations_load_and_uneven_ones_are_warned(tmp_path: Path) -> None:
    base = {"value": 10, "flags": ["ICE{x}"], "hints": ["one", {"content": "two", "cost": 5}]}
    write(
        tmp_path / "a",
        {
            **base,
            "name": "A",
            "translations": {
                "fr": {
                    "name": "Un",
                    "description": "d",
                    "hints": ["un", {"title": "T", "content": "deux"}],
                }
            },
        },
    )
    write(
        tmp_path / "b",
        {**base, "name": "B", "translations": {"fr": {"hints": ["un"]}, "de": {"name": "Be"}}},
    )
    write(tmp_path / "c", {**base, "name": "C"})
    result = lint([tmp_path])
    assert result.problems == []
    spec = next(c.spec for c in result.challenges if c.spec.name == "A")
    assert spec.translations["fr"].hints[1].title == "T"
    got = sorted(str(w).replace(str(tmp_path), "") for w in result.warnings)
    assert got == sorted(
        [
            "/b/challenge.yml: translations.fr.hints: 1 translated hint(s) for 2 hint(s): "
            "they are matched by position",
            "/b/challenge.yml: translations.de: the pages do not speak 'de' (no catalog), "
            "so no team can choose it",
            "/a/challenge.yml: translations: no 'de' translation, while 1 other "
            "challenge(s) of this set have one",
            "/c/challenge.yml: translations: no 'de' translation, while 1 other "
            "challenge(s) of this set have one",
            "/c/challenge.yml: translations: no 'fr' translation, while 2 other "
            "challenge(s) of this set have one",
        ]
    )


@pytest.mark.parametrize(
    ("translations", "where"),
    [
        ({"FR": {"name": "x"}}, "translations key 'FR'"),
        ({"fr": {"nom": "x"}}, "translations.fr.nom"),
        ({"fr": {"name": ""}}, "translations.fr.name"),
        ({"fr": {"flags": ["x"]}}, "translations.fr.flags"),
        ({"fr": {"hints": [{"title": "t"}]}}, "translations.fr.hints.0.content"),
    ],
)
def test_bad_translations_name_the_field(tmp_path: Path, translations: dict, where: str) -> None:
    write(
        tmp_path / "a", {"name": "A", "value": 1, "flags": ["ICE{x}"], "translations": translations}
    )
    found = problems(tmp_path)
    assert any(f"challenge.yml: {where}" in p for p in found), found


def test_the_shipped_pack_is_translated_evenly() -> None:
    result = lint([REPO / "challenges"])
    assert result.problems == []
    assert [str(w) for w in result.warnings if "translation" in str(w)] == []
    assert all("fr" in c.spec.translations for c in result.challenges)
