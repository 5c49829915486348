"""ctfcli's challenge.yml as real repositories write it: the corpus in
``tests/fixtures/ctfcli`` loads, with a warning for each thing not used as written; the one in
``tests/fixtures/ctfcli-refused`` is refused, one clear line each. No database, no engine."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from range_control.cli import main
from range_control.domain.scoring import ChallengeValue, decayed_value
from range_control.services.catalog import live_check
from range_control.services.catalog.lint import Known, LintResult, lint
from range_control.specs import ctfcli
from range_control.specs.challenge import ChallengeSpec, slugify
from range_control.specs.ctfcli import KNOWN, did_you_mean
from tests.support import TESTS

FIXTURES = TESTS / "fixtures"
CORPUS = FIXTURES / "ctfcli"
REFUSED = FIXTURES / "ctfcli-refused"
# spec-example requires "1": a CTFd id, here the range's own id of a loaded challenge.
WITH_WARMUP = Known(frozenset({"warmup"}), {"Warmup": "warmup"}, {1: "warmup"})


@pytest.fixture(scope="module")
def corpus() -> LintResult:
    return lint([CORPUS], known=WITH_WARMUP)


def spec_of(result: LintResult, directory: str) -> ChallengeSpec:
    return next(c.spec for c in result.challenges if c.directory.name == directory)


def lines(result: LintResult, directory: str) -> list[str]:
    return [f"{w.where}: {w.message}" for w in result.warnings if w.path.parent.name == directory]


def test_every_file_of_the_corpus_loads(corpus: LintResult) -> None:
    assert corpus.problems == []
    assert sorted(c.directory.name for c in corpus.challenges) == sorted(
        d.name for d in CORPUS.iterdir() if d.is_dir()
    )


def test_ctfcli_spec_example_loads_as_it_is(corpus: LintResult) -> None:
    spec = spec_of(corpus, "spec-example")
    assert spec.prerequisites == ["Warmup", "Are you alive", 1]
    assert spec.state == "hidden" and spec.attempts == 5 and spec.version == "0.1"
    # data: "asdfasdfsdf" is case-sensitive in CTFd: said, not refused.
    assert not spec.flags[1].case_insensitive
    assert lines(corpus, "spec-example") == [
        "flags.1.data: 'asdfasdfsdf' is not case_insensitive: the flag is case-sensitive"
    ]


def test_every_ctfcli_key_is_read(corpus: LintResult) -> None:
    spec = spec_of(corpus, "everything")
    assert spec.solution is not None and (spec.solution.path, spec.solution.state) == (
        "writeup/WRITEUP.md",
        "solved",
    )
    assert spec.scheduled_at is not None and spec.scheduled_at.isoformat() == (
        "2026-07-01T10:00:00+00:00"
    )
    assert spec.logic == "all" and spec.version == "0.1"  # unquoted 0.1 is a number in YAML
    assert spec.topics == ["RSA", "2024"] and spec.tags == ["crypto", "1337", "medium"]
    assert [(h.key, h.requirements) for h in spec.hints] == [
        ("basics", []),
        ("deeper", ["basics"]),
        (None, ["deeper"]),
    ]
    assert spec.extra is not None and spec.extra.decay == 0 and spec.initial_value == 500
    assert spec.prerequisites == ["Warmup"]
    assert lines(corpus, "everything") == [
        "module: ignored: CTFd's challenge modules (menus) are not part of the range",
        "next: ignored: the range suggests no next challenge",
        "hints.2.requirements: no hint has the key 'nowhere': ignored",
    ]


def test_logarithmic_decay_zero_scores_as_ctfd_does() -> None:
    # CTFd reads a decay of 0 as 1: the second solver already gets the minimum.
    ch = ChallengeValue(1, "c", "C", "dynamic", 500, minimum=100, decay=0.0)
    assert [decayed_value(ch, n) for n in range(3)] == [500, 100, 100]


def test_unknown_keys_of_a_repository_are_warnings_misspellings_are_errors(
    corpus: LintResult,
) -> None:
    assert lines(corpus, "custom-keys") == [
        "difficulty: not a challenge.yml key: ignored",
        "tests: not a challenge.yml key: ignored",
        "no_docker: not a challenge.yml key: ignored",
    ]
    refused = lint([REFUSED])
    errors = {p.path.parent.name: str(p) for p in refused.problems}
    for directory, key, known in [
        ("flagz", "flagz", "flags"),
        ("catagory", "catagory", "category"),
        ("hint", "hint", "hints"),
    ]:
        assert errors[directory] == (
            f"{REFUSED / directory / 'challenge.yml'}: {key}: unknown key: did you mean {known!r}?"
        )


def test_another_platforms_container_is_refused_with_what_to_write_instead() -> None:
    """TCP1P's container block and start script, a docker-compose file to run: one line each,
    naming the key and what to write; never loaded as a static challenge nobody can reach."""
    refused = lint([REFUSED])
    errors = {p.path.parent.name: str(p) for p in refused.problems}
    instead = ctfcli.WRITE_INSTEAD
    where = {d: REFUSED / d / "challenge.yml" for d in ("tcp1p-container", "tcp1p-start")}
    assert errors["tcp1p-container"] == (
        f"{where['tcp1p-container']}: container: another platform's container, not run by the "
        f"range: {instead}"
    )
    assert errors["tcp1p-start"].endswith(
        f"scripts.start: a start script runs another platform's container, not the range: {instead}"
    )
    assert "deploy: 'src/docker-compose.yml' is a docker-compose file" in errors["compose-ref"]
    assert not {"tcp1p-container", "tcp1p-start", "compose-ref"} & {
        c.directory.name for c in refused.challenges
    }
    assert "\n" not in errors["tcp1p-start"]


def test_plugin_types_and_leftover_extra_are_scored_by_value(corpus: LintResult) -> None:
    plugin = spec_of(corpus, "plugin-type")
    assert plugin.type == "standard" and plugin.extra is None and plugin.initial_value == 300
    assert lines(corpus, "plugin-type") == [
        "type: 'kubernetes' is a CTFd plugin type: loaded as a standard challenge; extra keys "
        "ignored: decay, image, initial, minimum; value 300 (its extra.initial)"
    ]
    leftover = spec_of(corpus, "standard-extra")
    assert leftover.initial_value == 100 and leftover.extra is None  # not extra.initial
    assert lines(corpus, "standard-extra") == [
        "extra: ignored for a standard challenge: it is scored by its value"
    ]


def test_no_flags_and_flags_in_files_are_warnings(corpus: LintResult) -> None:
    assert not spec_of(corpus, "no-flags").solvable_by_flag
    assert lines(corpus, "no-flags") == [
        "flags: no flag: loaded, but no flag solves it (add a flag, or award points by hand)"
    ]
    assert lines(corpus, "forensics") == [
        "files.0: 'dist/capture.pcap' contains a static flag: every team can read it (if "
        "intended, set flag_in_files: allowed)"
    ]
    assert lines(corpus, "forensics-allowed") == []


def test_deployment_keys_become_an_environment(corpus: LintResult) -> None:
    spec = spec_of(corpus, "deploy")
    assert spec.environment is not None
    (svc,) = spec.environment.services
    assert (svc.name, svc.build, svc.ports, svc.exposure) == ("challenge", ".", [1337], "published")
    assert lines(corpus, "deploy") == [
        "healthcheck: ctfcli's healthcheck script is not run: add a solver (solve/solve.py) "
        "for `rangectl challenges check --live`",
        "connection_info: each team gets its own instance: the portal shows that instance's "
        "address, not this text",
    ]


def test_refusals_say_what_is_really_wrong() -> None:
    refused = lint([REFUSED], image_present=lambda ref: False)
    errors = [str(p) for p in refused.problems]
    base = REFUSED / "deploy-noexpose" / "challenge.yml"
    assert (
        f"{base}: image: '.': its Dockerfile has no EXPOSE: add `EXPOSE <port>` (the port teams "
        "connect to), or describe the service under environment:"
    ) in errors
    glob = REFUSED / "glob-files" / "challenge.yml"
    assert (
        f"{glob}: files.0: 'dist/*.txt' is a pattern: list the files it means one by one "
        "(ctfcli takes no globs)"
    ) in errors
    assert (
        f"{glob}: files.1: 'dist' is a directory: list its files one by one (ctfcli uploads files)"
    ) in errors
    pre = REFUSED / "prebuilt" / "challenge.yml"
    assert (
        f"{pre}: environment.services.prebuilt.image: the image "
        "'registry.example.org/ctf/prebuilt:1.0' is not on the engine, and the range pulls "
        "from no registry: `docker load` it, or build it from a directory"
    ) in errors
    nodf = REFUSED / "no-dockerfile" / "challenge.yml"
    assert f"{nodf}: image: '.' is a build directory without a Dockerfile" in errors
    other = REFUSED / "other-format" / "challenge.yml"
    assert (
        f"{other}: not ctfcli's challenge.yml: no name, value or flags (its keys: "
        "challenge_information, flag_information, sources, tags)"
    ) in errors
    tpl = REFUSED / "template" / "challenge.yml"
    assert (
        f"{tpl}: line 3, column 12: not valid YAML: found unhashable key (it holds template "
        "placeholders such as {{category}}: render it first)"
    ) in errors
    assert len(errors) == 13, errors
    # Present on the engine: it loads; no engine to ask: a warning, not a refusal.
    assert not [p for p in lint([REFUSED / "prebuilt"], image_present=lambda r: True).problems]
    unknown = lint([REFUSED / "prebuilt"], image_present=lambda r: None)
    assert unknown.problems == [] and "no engine answers" in unknown.warnings[0].message


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Перехват связи", "perekhvat-svyazi"),
        ("東京タワー", "dongjingtawa"),
        ("Ελληνικά", "ellinika"),
        ("Zürich", "zurich"),
        ("Plain Name", "plain-name"),
    ],
)
def test_names_in_any_script_get_a_stable_slug(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_a_name_with_nothing_to_transliterate_still_gets_its_own_slug() -> None:
    a, b = slugify("!!!"), slugify("???")
    assert a.startswith("challenge-") and b.startswith("challenge-") and a != b
    assert slugify("!!!") == a  # stable


def test_validate_strict_and_warning_lines(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"RANGE_ENVIRONMENTS": "off", "RANGE_DATA_DIR": str(tmp_path / "var")}
    path = CORPUS / "custom-keys"
    loose = runner.invoke(main, ["challenges", "validate", str(path)], env=env)
    assert loose.exit_code == 0, loose.output
    assert f"{path / 'challenge.yml'}: difficulty: warning: not a challenge.yml key: ignored" in (
        loose.output.splitlines()
    )
    assert "1 challenge(s), 3 warning(s) OK" in loose.output
    strict = runner.invoke(main, ["challenges", "validate", "--strict", str(path)], env=env)
    assert strict.exit_code == 1
    assert f"{path / 'challenge.yml'}: difficulty: not a challenge.yml key: ignored" in (
        strict.output.splitlines()
    )


def test_junit_report_carries_the_warnings(corpus: LintResult) -> None:
    item = next(c for c in corpus.challenges if c.directory.name == "custom-keys")
    result = live_check.Result(item.slug, item.path)
    xml = live_check.junit_xml(
        [result], {item.slug: [str(w) for w in corpus.warnings_of(item.path)]}
    )
    out = ET.fromstring(xml).find("testcase/system-out")  # noqa: S314 - our own report
    assert out is not None and out.text is not None
    assert f"warning: {item.path}: no_docker: not a challenge.yml key: ignored" in out.text


def test_nulls_take_defaults_and_requirements_keys_are_checked(tmp_path: Path) -> None:
    d = tmp_path / "nulls"
    d.mkdir()
    (d / "challenge.yml").write_text(
        yaml.safe_dump(
            {
                "name": "Nulls",
                "value": 10,
                "flags": ["flag{n}"],
                "description": None,
                "category": None,
                "tags": None,
                "files": None,
                "hints": None,
                "attempts": None,
                "state": None,
                "version": None,
                "type": None,
                "image": None,
                "next": None,
                "requirements": {
                    "prerequisites": [],
                    "anonymize": False,
                    "logic": "all",
                    "prerequisits": [],
                },
            }
        )
    )
    result = lint([d])
    assert [f"{p.where}: {p.message}" for p in result.problems] == [
        "requirements.prerequisits: unknown key: did you mean 'prerequisites'?"
    ]
    assert [f"{p.where}: {p.message}" for p in result.warnings] == [
        "requirements.logic: not a requirements key: ignored"
    ]
    data = yaml.safe_load((d / "challenge.yml").read_text())
    del data["requirements"]["prerequisits"]
    (d / "challenge.yml").write_text(yaml.safe_dump(data))
    (spec,) = [c.spec for c in lint([d]).challenges]
    assert (spec.category, spec.description, spec.state, spec.version) == (
        "misc",
        "",
        "visible",
        "0.1",
    )


def test_corpus_files_are_what_ctfcli_writes() -> None:
    """The corpus stays honest: each file parses as plain YAML, no key of ours added to the
    ctfcli files except where a test says so (flag_in_files)."""
    ours = {"slug", "dynamic_flag", "environment", "solver"}
    for path in CORPUS.rglob("challenge.yml"):
        data = yaml.safe_load(path.read_text())
        assert not ours & set(data), path


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("flagz", "flags"),
        ("flgas", "flags"),
        ("catagory", "category"),
        ("hint", "hints"),
        ("requirments", "requirements"),
        ("Flags", "flags"),
        ("dynamic_flags", "dynamic_flag"),
        ("connection_port", None),
        ("points", None),
        ("author_link", None),
        ("difficulty", None),
        ("tests", None),
        ("no_docker", None),
        ("attachment", None),
    ],
)
def test_only_near_misses_are_taken_for_typos(key: str, meant: str | None) -> None:
    assert did_you_mean(key, KNOWN) == meant
