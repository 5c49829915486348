"""The white cell: graded tasks. Teams submit and revise a deliverable until the due
time (absolute, or relative to a phase as it runs), the late rules, files checked by type and
content and size; blind grading, a second grader, moderation, publication into the ledger,
the scoreboard and the CTFtime feed, the freeze, regrades kept and audited. SQLite and
PostgreSQL; the pages through Flask's client (the browser test is test_browser_tasks.py)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from range_control.core.actors import Actor, ActorKind
from range_control.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from range_control.services.catalog.lint import lint
from range_control.services.event import controls, event, scenario
from range_control.services.whitecell import grading, publication, submissions, tasks
from range_control.store.models import AuditLog, Challenge, Grade, Submission
from tests.support.env import ADMIN, T0, TEST, Env
from tests.support.people import person, sign_in
from tests.support.web import csrf, login, token_of

RUBRIC = [
    {"id": "accuracy", "title": "Accuracy", "points": 10, "guidance": "Facts as found."},
    {"id": "clarity", "title": "Clarity", "points": 5},
]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def task(env: Env, slug: str = "sitrep", **spec: object) -> None:
    env.challenge(
        slug,
        type="task",
        deliverable=spec.pop("deliverable", "both"),
        rubric=RUBRIC,
        flags=spec.pop("flags", []),
        **spec,
    )


def g(name: str, account_id: int | None = None) -> Actor:
    """A grader: a person (with an account) or a grader's token (known by its name)."""
    if account_id is None:
        return Actor(ActorKind.TOKEN, None, name)
    return Actor(ActorKind.PERSON, account_id, name)


def scores(accuracy: int, clarity: int, note: str = "") -> dict[str, dict[str, object]]:
    return {"accuracy": {"points": accuracy, "comment": note}, "clarity": {"points": clarity}}


def test_a_task_is_checked_when_loaded(env: Env, tmp_path) -> None:
    def problems(**spec: object) -> list[str]:
        d = tmp_path / "bad" / "t"
        d.mkdir(parents=True, exist_ok=True)
        import yaml

        (d / "challenge.yml").write_text(yaml.safe_dump({"name": "T", **spec}))
        return [str(p) for p in lint([tmp_path / "bad"]).problems]

    assert any("needs deliverable" in p for p in problems(type="task", rubric=RUBRIC))
    assert any("needs a rubric" in p for p in problems(type="task", deliverable="text"))
    twice = problems(type="task", deliverable="text", rubric=RUBRIC + [RUBRIC[0]])
    assert any("'accuracy' appears twice" in p for p in twice)
    assert any("only for type 'task'" in p for p in problems(value=10, flags=["x"], rubric=RUBRIC))
    assert any(
        "late" in p
        for p in problems(type="task", deliverable="text", rubric=RUBRIC, late={"penalty": "lots"})
    )
    assert any(
        "due" in p
        for p in problems(type="task", deliverable="text", rubric=RUBRIC, due="2026-07-01T12:00:00")
    )
    ok = problems(
        type="task", deliverable="text", rubric=RUBRIC, due={"phase": "x", "offset": "-10m"}
    )
    assert not [p for p in ok if "error" in p.lower()], ok


def test_teams_submit_and_revise_and_bad_files_store_nothing(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    task(env, upload={"max_bytes": 1000, "types": ["pdf", "txt"]})
    env.start()
    v1 = submissions.submit(env.ctx, a_id, "sitrep", "# SITREP\nAll **quiet**.", None)
    v2 = submissions.submit(env.ctx, a_id, "sitrep", "revised", tasks.Upload("rep.pdf", PDF))
    assert (v1.version, v2.version, v2.file_name, v2.late) == (1, 2, "rep.pdf", False)
    files_before = sorted((env.ctx.settings.data_dir / "submissions").rglob("*"))
    for upload, said in [
        (tasks.Upload("rep.exe", b"MZ"), "'rep.exe' is not an allowed type (pdf, txt)"),
        (tasks.Upload("fake.pdf", b"<html>"), "'fake.pdf' is not a pdf file"),
        (tasks.Upload("big.txt", b"x" * 1001), "1001 bytes, more than this task's 1000"),
        (tasks.Upload("bin.txt", b"\xff\xfe\x00"), "'bin.txt' is not UTF-8 text"),
        (tasks.Upload("empty.pdf", b""), "'empty.pdf' is empty"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            submissions.submit(env.ctx, a_id, "sitrep", None, upload)
        assert said in exc.value.message
    with pytest.raises(InvalidInput, match="nothing to submit"):
        submissions.submit(env.ctx, a_id, "sitrep", "   ", None)
    with pytest.raises(InvalidInput, match="at most 100000 characters"):
        submissions.submit(env.ctx, a_id, "sitrep", "x" * 100_001, None)
    with env.ctx.store.read() as s:
        assert s.query(Submission).count() == 2
    assert sorted((env.ctx.settings.data_dir / "submissions").rglob("*")) == files_before
    with pytest.raises(NotFound):
        submissions.submit(env.ctx, a_id, "no-such-task", "x", None)


def test_late_rules_refuse_accept_and_penalty(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    due = (T0 + timedelta(minutes=30)).isoformat()
    task(env, "refused", due=due)
    task(env, "accepted", due=due, late="accept")
    task(env, "penalised", due=due, late={"penalty": "20%"})
    env.start()
    for slug in ("refused", "accepted", "penalised"):
        assert not submissions.submit(env.ctx, a_id, slug, "on time", None).late
    env.clock.advance(minutes=31)
    with pytest.raises(Forbidden, match="it takes no more submissions"):
        submissions.submit(env.ctx, a_id, "refused", "too late", None)
    assert tasks.team_view(env.ctx, a_id, "refused").closed
    assert submissions.submit(env.ctx, a_id, "accepted", "late one", None).late
    assert submissions.submit(env.ctx, a_id, "penalised", "late one", None).late
    code = tasks.blind_code(env.ctx, _id(env, "penalised"), a_id)
    grading.grade(env.ctx, "penalised", code, scores(8, 2), g("Gina"))
    publication.publish(env.ctx, "penalised", TEST)
    view = tasks.team_view(env.ctx, a_id, "penalised").grade
    assert (view.penalty, view.total, view.most) == (2, 8, 15)  # 20% of 10, rounded
    ledger = env.client.get(f"/api/v1/scoreboard/teams/{a_id}").json
    assert ("late submission: penalty 20%", -2) in [
        (e["why"], e["points"]) for e in ledger["entries"]
    ]


def _id(env: Env, slug: str) -> int:
    with env.ctx.store.read() as s:
        return s.scalar(select(Challenge.id).where(Challenge.slug == slug))


def test_a_due_time_follows_its_phase_as_it_runs(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    task(env, due={"phase": "recovery", "at": "end", "offset": "-10m"})
    scenario.load(
        env.ctx,
        scenario.parse(
            {
                "event": "ICE",
                "phases": [
                    {"id": "attack", "title": "Attack", "duration": "30m"},
                    {
                        "id": "recovery",
                        "title": "Recovery",
                        "duration": "30m",
                        "challenges": ["sitrep"],
                    },
                ],
            }
        ),
        TEST,
    )
    assert tasks.team_view(env.ctx, a_id, "sitrep").due_at is None  # not started yet
    env.start()
    assert tasks.team_view(env.ctx, a_id, "sitrep").due_at == T0 + timedelta(minutes=50)
    controls.extend(env.ctx, timedelta(minutes=15), TEST)  # the attack phase runs longer
    assert tasks.team_view(env.ctx, a_id, "sitrep").due_at == T0 + timedelta(minutes=65)


def test_blind_grading_second_grader_moderation_publication_and_regrade(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    b_id, _ = env.team("Bravo", "NO")
    task(env, second_grader=True, moderation_threshold=2)
    env.start()
    ch = _id(env, "sitrep")
    submissions.submit(env.ctx, a_id, "sitrep", "Alpha's report", None)
    submissions.submit(env.ctx, b_id, "sitrep", "Bravo's report", None)
    rows = grading.queue(env.ctx, "sitrep")
    ca, cb = tasks.blind_code(env.ctx, ch, a_id), tasks.blind_code(env.ctx, ch, b_id)
    assert {r.code for r in rows} == {ca, cb} and {r.team for r in rows} == {None}
    assert tasks.blind_code(env.ctx, ch, a_id) != tasks.blind_code(env.ctx, ch + 1, a_id)
    # Bad grades: named, nothing stored.
    for bad, said in [
        ({"accuracy": 11, "clarity": 1}, "'accuracy': 11 is outside 0 to 10"),
        ({**scores(1, 1), "style": 3}, "unknown criterion 'style'"),
        ({"accuracy": 3}, "'clarity': no points given"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            grading.grade(env.ctx, "sitrep", ca, bad, g("Gina"))
        assert said in exc.value.message
    with pytest.raises(NotFound, match="no submission 'T-NOPE1'"):
        grading.grade(env.ctx, "sitrep", "T-NOPE1", scores(1, 1), g("Gina"))
    # Two graders: B agreed (within 2 points), A apart on accuracy (8 vs 3).
    grading.grade(env.ctx, "sitrep", ca, scores(7, 4), g("Gina"))
    again = grading.grade(env.ctx, "sitrep", ca, scores(8, 4, "good"), g("Gina"))
    assert again.role == "first"  # Gina again is not a second grader: her card is replaced
    grading.grade(env.ctx, "sitrep", ca, scores(3, 4), g("Hugo"))
    with pytest.raises(Conflict, match="a change now is a moderation"):
        grading.grade(env.ctx, "sitrep", ca, scores(5, 4), g("Ivan"))
    grading.grade(env.ctx, "sitrep", cb, scores(6, 3), g("Gina"))
    grading.grade(env.ctx, "sitrep", cb, scores(7, 5), g("Hugo"))
    status = {
        r.code: (r.status, r.total, r.disagreements) for r in grading.queue(env.ctx, "sitrep")
    }
    assert status == {ca: ("to moderate", None, ["accuracy"]), cb: ("agreed", 11, [])}
    with pytest.raises(Conflict, match=f"{ca} \\(to moderate\\)"):
        publication.publish(env.ctx, "sitrep", TEST)
    grading.grade(env.ctx, "sitrep", ca, scores(6, 4, "settled"), g("Mona"), moderate=True)
    # Not published: the teams and the board see nothing yet.
    assert tasks.team_view(env.ctx, a_id, "sitrep").grade is None
    assert env.client.get("/api/v1/me", headers=a).json["standing"]["score"] == 0
    env.clock.advance(minutes=5)
    publication.publish(env.ctx, "sitrep", g("Mona"))
    ledger = env.client.get(f"/api/v1/scoreboard/teams/{a_id}").json
    lines = [(e["kind"], e["why"], e["points"]) for e in ledger["entries"]]
    assert lines == [
        ("grade", "graded by the white cell: criterion Accuracy 6/10", 6),
        ("grade", "graded by the white cell: criterion Clarity 4/5", 4),
    ]
    assert ledger["score"] == 10
    board = {r["team"]: r["score"] for r in env.client.get("/api/v1/scoreboard").json["standings"]}
    assert board == {"Alpha": 10, "Bravo": 11}
    feed = env.client.get("/api/v1/scoreboard/ctftime").json
    assert "Sitrep" in feed["tasks"]
    assert {s["team"]: s["taskStats"]["Sitrep"]["points"] for s in feed["standings"]} == {
        "Alpha": 10,
        "Bravo": 11,
    }
    assert {r.team for r in grading.queue(env.ctx, "sitrep")} == {"Alpha", "Bravo"}  # unblinded
    view = tasks.team_view(env.ctx, a_id, "sitrep").grade
    assert view.total == 10 and view.lines[0].comment == "settled"
    # A regrade after publishing: the history stays, the audit log has before and after.
    env.clock.advance(minutes=5)
    grading.grade(env.ctx, "sitrep", ca, scores(9, 4), g("Mona"))
    assert env.client.get(f"/api/v1/scoreboard/teams/{a_id}").json["score"] == 13
    with env.ctx.store.read() as s:
        history = list(s.scalars(select(Grade).where(Grade.team_id == a_id).order_by(Grade.id)))
        regrade = s.scalars(select(AuditLog).where(AuditLog.action == "task.regrade")).one()
    assert [h.role for h in history] == ["first", "first", "second", "final", "final"]
    assert [h.replaced_at is not None for h in history] == [True, False, False, True, False]
    assert regrade.detail["was"] == 10 and regrade.detail["total"] == 13
    with pytest.raises(Conflict, match="published already"):
        publication.publish(env.ctx, "sitrep", TEST)


def test_the_freeze_holds_back_grades_published_after_it(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    task(env)
    env.start()
    submissions.submit(env.ctx, a_id, "sitrep", "report", None)
    event.configure(env.ctx, TEST, freeze_at=T0 + timedelta(minutes=10))
    env.clock.advance(minutes=15)
    grading.grade(
        env.ctx,
        "sitrep",
        tasks.blind_code(env.ctx, _id(env, "sitrep"), a_id),
        scores(7, 3),
        g("Gina"),
    )
    publication.publish(env.ctx, "sitrep", TEST)
    public = env.client.get("/api/v1/scoreboard").json["standings"][0]["score"]
    organiser = env.client.get("/api/v1/admin/scoreboard", headers=env.admin()).json
    assert public == 0 and organiser["standings"][0]["score"] == 10


def test_the_pages_submit_grade_blind_and_render_submissions_safely(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    task(env, upload={"types": ["pdf"]})
    env.start()
    person(env, "Mark Member", "member", team="Alpha", callsign="MARK")
    mark, _ = sign_in(env, "mark", "portal")
    page = mark.get("/portal/challenges/sitrep").get_data(as_text=True)
    assert "Your deliverable" in page and "Submit a flag" not in page  # a task without flags
    token = csrf(mark, "/portal/challenges/sitrep")
    evil = "<script>alert(1)</script> **bold** <img src=x onerror=alert(2)>"
    r = mark.post(
        "/portal/challenges/sitrep/submission",
        data={"text": evil, "csrf_token": token, "file": (io.BytesIO(PDF), "Alpha-report.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Version 1 received." in r.get_data(as_text=True)
    assert mark.get("/portal/challenges/sitrep/submissions/1/file").data == PDF
    assert mark.get("/portal/challenges/sitrep/submissions/9/file").status_code == 404
    # A file larger than RANGE_MAX_BODY_BYTES goes through this route (the task's limit holds).
    big = b"%PDF-" + b"0" * (200 * 1024)
    r = mark.post(
        "/portal/challenges/sitrep/submission",
        data={"csrf_token": token, "text": evil, "file": (io.BytesIO(big), "b.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Version 2 received." in r.get_data(as_text=True)
    # The grader's view: a code, never the team's name, nor the member's, nor the file's name.
    person(env, "Gina Grader", "grader", callsign="GINA")
    gina, _ = sign_in(env, "gina", "console")
    queue = gina.get("/console/tasks/sitrep").get_data(as_text=True)
    code = tasks.blind_code(env.ctx, _id(env, "sitrep"), a_id)
    assert code in queue and "Alpha" not in queue
    sheet = gina.get(f"/console/tasks/sitrep/{code}").get_data(as_text=True)
    assert "Alpha" not in sheet and "Mark" not in sheet
    assert "<script>alert" not in sheet and "<img src=x" not in sheet  # escaped, inert
    assert "<strong>bold</strong>" in sheet
    f = gina.get(f"/console/tasks/sitrep/{code}/files/2")
    assert f.status_code == 200 and f"{code}-v2.pdf" in f.headers["Content-Disposition"]
    form = {
        "points:accuracy": "11",
        "points:clarity": "2",
        "csrf_token": csrf(gina, f"/console/tasks/sitrep/{code}"),
    }
    r = gina.post(f"/console/tasks/sitrep/{code}/grade", data=form, follow_redirects=True)
    assert "&#39;accuracy&#39;: 11 is outside 0 to 10" in r.get_data(as_text=True)
    form["points:accuracy"] = "9"
    r = gina.post(f"/console/tasks/sitrep/{code}/grade", data=form, follow_redirects=True)
    assert "Grade saved" in r.get_data(as_text=True)
    # A grader grades; publishing is the organisers'; an observer changes nothing.
    assert gina.post("/console/tasks/sitrep/publish", data=form).status_code == 403
    person(env, "Olga Obs", "observer", callsign="OLGA")
    olga, _ = sign_in(env, "olga", "console")
    theirs = {**form, "csrf_token": csrf(olga, "/console/tasks")}
    assert olga.post(f"/console/tasks/sitrep/{code}/grade", data=theirs).status_code == 403
    c = env.app.test_client()
    c.post("/console/login", data={"token": ADMIN, "csrf_token": csrf(c, "/console/login")})
    r = c.post(
        "/console/tasks/sitrep/publish",
        data={"csrf_token": csrf(c, "/console/tasks")},
        follow_redirects=True,
    )
    assert "Grades published" in r.get_data(as_text=True)
    page = mark.get("/portal/challenges/sitrep").get_data(as_text=True)
    assert "Our grade: 11 of 15" in page
    assert env.client.get("/api/v1/me", headers=a).json["standing"]["score"] == 11


def test_the_white_cell_s_api_names_every_bad_grade(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    task(env)
    env.start()
    submissions.submit(env.ctx, a_id, "sitrep", "report", None)
    h = env.admin()
    c = env.client
    assert [t["slug"] for t in c.get("/api/v1/admin/tasks", headers=h).json] == ["sitrep"]
    row = c.get("/api/v1/admin/tasks/sitrep/submissions", headers=h).json[0]
    assert row["team"] is None and row["status"] == "ungraded"
    url = "/api/v1/admin/tasks/sitrep/grades"
    for body, status, said in [
        (
            {"code": row["code"], "scores": {"accuracy": {"points": 12}, "clarity": {"points": 1}}},
            400,
            "'accuracy': 12 is outside 0 to 10",
        ),
        (
            {"code": row["code"], "scores": {"style": {"points": 1}}},
            400,
            "unknown criterion 'style'",
        ),
        ({"code": "T-NONE00", "scores": scores(1, 1)}, 404, "no submission 'T-NONE00'"),
    ]:
        r = c.post(url, json=body, headers=h)
        assert r.status_code == status and said in r.json["error"]["message"], r.json
    read = c.post("/api/v1/admin/tokens", json={"name": "board"}, headers=h).json["token"]
    r = c.post(
        url,
        json={"code": row["code"], "scores": scores(7, 3)},
        headers={"Authorization": f"Bearer {read}"},
    )
    assert r.status_code == 403
    # A grader's script: a "grade" token grades, and publishes nothing.
    grade = c.post(
        "/api/v1/admin/tokens", json={"name": "marker", "scope": "grade"}, headers=h
    ).json["token"]
    marker = {"Authorization": f"Bearer {grade}"}
    r = c.post(url, json={"code": row["code"], "scores": scores(7, 3)}, headers=marker)
    assert r.status_code == 201 and r.json["total"] == 10 and r.json["role"] == "first"
    assert r.json["grader"] == "machine: token marker"
    r = c.post("/api/v1/admin/tasks/sitrep/publish", headers=marker)
    assert r.status_code == 403 and "scope (grade)" in r.json["error"]["message"]
    assert c.post("/api/v1/admin/event/pause", headers=marker).status_code == 403
    r = c.post("/api/v1/admin/tasks/sitrep/publish", headers=h)
    assert r.status_code == 200 and r.json["published_at"] is not None
    assert c.post("/api/v1/admin/tasks/sitrep/publish", headers=h).status_code == 409
    assert c.get("/api/v1/admin/tasks/nope/submissions", headers=h).status_code == 404


def test_a_backup_keeps_the_teams_deliverable_files(env: Env) -> None:
    from range_control.context import Range
    from range_control.services.operations import backups
    from tests.support.servers import fresh_target

    a_id, _ = env.team("Alpha", "NL")
    task(env, upload={"types": ["pdf"]})
    env.start()
    submissions.submit(env.ctx, a_id, "sitrep", "text", tasks.Upload("r.pdf", PDF))
    taken = backups.take(env.ctx, env.tmp / "b.tar.gz")
    assert "submissions.tar" in taken.manifest.files
    with fresh_target(env.ctx.store.engine.dialect.name, env.tmp) as settings:
        backups.restore(settings, env.tmp / "b.tar.gz")
        restored = Range.from_settings(settings.ensure_secrets())
        path, name, _ = submissions.submission_file(restored, "sitrep", 1, a_id)
        assert path.read_bytes() == PDF and name == "r.pdf"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        restored.store.dispose()


def test_office_deliverables_are_checked_for_what_they_are_and_refusals_store_nothing(
    env: Env,
) -> None:
    from tests.unit.whitecell.test_documents import real_docx, real_odt, real_xlsx, with_entry

    a_id, _ = env.team("Alpha", "NL")
    task(env, upload={"max_bytes": 2_000_000, "types": ["docx", "xlsx", "odt"]})
    env.start()
    for name, data in [("r.docx", real_docx()), ("r.xlsx", real_xlsx()), ("r.odt", real_odt())]:
        assert submissions.submit(env.ctx, a_id, "sitrep", None, tasks.Upload(name, data)).file_name
    files_before = sorted((env.ctx.settings.data_dir / "submissions").rglob("*"))
    exe = io.BytesIO()
    with zipfile.ZipFile(exe, "w") as z:
        z.writestr("report.exe", b"MZ\x90\x00" + bytes(64))
    docx = real_docx()
    for upload, said in [
        (
            tasks.Upload("bomb.docx", with_entry(docx, "word/media/x.bin", bytes(100 * 2**20))),
            "'bomb.docx' has an entry word/media/x.bin compressed more than 200 to 1",
        ),
        (tasks.Upload("exe.docx", exe.getvalue()), "'exe.docx' holds a program (report.exe)"),
        (tasks.Upload("cut.docx", docx[: len(docx) // 2]), "'cut.docx' is not a docx file"),
        (tasks.Upload("sheet.docx", real_xlsx()), "'sheet.docx' is not a docx file"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            submissions.submit(env.ctx, a_id, "sitrep", None, upload)
        assert said in exc.value.message
    with env.ctx.store.read() as s:
        assert s.query(Submission).count() == 3
    assert sorted((env.ctx.settings.data_dir / "submissions").rglob("*")) == files_before


def test_only_a_signed_in_team_sending_to_a_task_that_takes_files_gets_a_larger_body(
    env: Env,
) -> None:
    """The normal body limit (RANGE_MAX_BODY_BYTES, 64 KiB here) holds for everyone else: an
    anonymous client, a team sending to a task that takes text only or to no task, and a body
    past the task's own limit get 413 before any form is read (no CSRF check, nothing parsed)."""
    _, h = env.team("Alpha", "NL")
    task(env, upload={"max_bytes": 300_000, "types": ["txt"]})
    task(env, "notes", deliverable="text")
    env.start()
    normal = env.ctx.settings.max_body_bytes
    body = b"x" * (200_000)  # more than the normal limit, less than the task's
    assert len(body) > normal

    def send(client, slug: str, data: bytes, token: str = "") -> int:
        return client.post(
            f"/portal/challenges/{slug}/submission",
            data={"file": (io.BytesIO(data), "a.txt"), "csrf_token": token},
            content_type="multipart/form-data",
        ).status_code

    assert send(env.app.test_client(), "sitrep", body) == 413  # anonymous
    team = login(env, token_of(h))
    token = csrf(team, "/portal/challenges/sitrep")
    assert send(team, "notes", body, token) == 413  # text only
    assert send(team, "no-such-task", body, token) == 413
    assert send(team, "sitrep", b"x" * (300_000 + normal + 1), token) == 413  # past its own
    assert send(team, "sitrep", body, token) == 302
    with env.ctx.store.read() as s:
        assert [r.file_size for r in s.query(Submission)] == [200_000]
