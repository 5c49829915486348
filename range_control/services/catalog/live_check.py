"""``rangectl challenges check --live``: prove each challenge solvable on a live engine.

For every challenge, in a range of its own (a throw-away SQLite database, an event slug of its
own, one validation team), exactly as an event would run it:

1. **build**: the challenge's images (content-tagged: a warm run builds nothing) and its solver
   image (the solver base image, Python 3 on ``range/base``, plus ``solve/`` and the attachments);
2. **start**: the validation team's instance, through ``environments.up`` and one reconciler
   pass (team network, hardened containers, the team's flag, the jumpbox);
3. **health**: every service running and, when it has a healthcheck, healthy;
4. **solve**: the solver in a container on the team network (services by name, like a team
   from its jumpbox), or with no network at all for attachment-only challenges;
5. **flag**: the last line the solver printed must be that team's flag (dynamic flags
   included) or satisfy the challenge's static, regex or case-insensitive flags.

Everything is torn down afterwards, also on failure and on Ctrl-C (``cancel``): a reconciler
pass with nothing desired, then a sweep of whatever still carries the check's event label.
The engine is any ``Backend``: the check runs where the event will run.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.settings import Settings, secret
from range_control.domain.flags import DynamicFlag, Flag, dynamic_flag, matches
from range_control.orchestrator import images
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import ROLE, SERVICE, Cancel, Job, network_name
from range_control.services.catalog import builds
from range_control.services.catalog.lint import Loaded, solver_of
from range_control.services.catalog.sync import sync
from range_control.services.defence.conformance import Failed, conformance_of
from range_control.services.environments import instances
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.people import teams
from range_control.specs.challenge import SolverSpec
from range_control.store import migrate

SOLVER_BASE_DOCKERFILE = (
    f"FROM {images.BASE_IMAGE}\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends python3 "
    "&& rm -rf /var/lib/apt/lists/*\n"
)
STEPS = ("build", "start", "health", "solve", "flag")
OUTPUT_LINES = 15
_MIGRATING = threading.Lock()
SETTLE_SECONDS = 2.0


class Cancelled(Exception):
    pass


class StepFailed(Exception):
    pass


CHECK = Actor.range("check")  # who acts in the throw-away range of a live check


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Result:
    slug: str
    path: Path
    steps: list[Step] = field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failure(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def summary(self) -> str:
        timings = " · ".join(f"{s.name} {s.seconds:.1f}s" for s in self.steps)
        if self.ok:
            return f"PASS {self.slug} ({timings})"
        bad = self.failure
        assert bad is not None
        return f"FAIL {self.slug}: {bad.name}: {bad.detail} ({timings})"


def _tail(text: str, n: int = OUTPUT_LINES) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


class LiveCheck:
    """Runs the live check of many challenges, ``jobs`` at a time."""

    def __init__(
        self,
        backend: Backend,
        *,
        jobs: int = 2,
        health_timeout: float = 180,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.jobs = max(1, jobs)
        self.health_timeout = health_timeout
        self.progress = progress or (lambda _msg: None)
        self.cancel = Cancel()
        self._events: set[str] = set()
        self._lock = threading.Lock()
        self._solver_base: str | None = None

    # --- the run ------------------------------------------------------------------------
    def run(self, items: list[Loaded]) -> list[Result]:
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="check")
        futures = [pool.submit(self.check_one, item, i, items) for i, item in enumerate(items)]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            self.progress("interrupted: tearing down what the check started")
            self.cancel.set()
            for f in futures:
                f.cancel()
            pool.shutdown(wait=True)  # running checks see `cancel` and tear down
            raise
        finally:
            pool.shutdown(wait=True)
            for event in list(self._events):  # backstop: nothing of the check survives
                self.backend.sweep(event)

    def check_one(self, item: Loaded, index: int, pack: list[Loaded] | None = None) -> Result:
        """Check ``item``; ``pack`` (its whole set) is loaded too, for prerequisites."""
        result = Result(item.slug, item.path)
        if item.spec.type == "task" and not item.spec.solvable_by_flag:
            # People grade it against its rubric: there is no flag for a solver to capture.
            result.steps.append(Step("graded task", True, 0.0, "graded by the white cell"))
            self.progress(result.summary())
            return result
        tmp = Path(tempfile.mkdtemp(prefix=f"rc-check-{item.slug}-"))
        event = "chk" + secrets.token_hex(4)
        with self._lock:
            self._events.add(event)
        ctx: Range | None = None
        rec: EnvironmentReconciler | None = None
        try:
            ctx = self._range(tmp, event, index)
            rec = EnvironmentReconciler(ctx, self.backend, pool=4, max_restarts=0)
            sync(ctx, pack or [item], actor=CHECK)
            team = teams.add_team(ctx, "validation", actor=CHECK).team.id
            if item.spec.type == "defended":
                self._defended_steps(result, item, ctx, rec, team)
            else:
                self._steps(result, item, ctx, rec, team)
        except Cancelled:
            result.steps.append(Step("cancelled", False, 0.0, "interrupted (Ctrl-C)"))
        except Exception as exc:  # noqa: BLE001 - reported as the check's failure
            result.steps.append(Step("setup", False, 0.0, f"{exc.__class__.__name__}: {exc}"))
        finally:
            self._teardown(ctx, rec, event)
            shutil.rmtree(tmp, ignore_errors=True)
        self.progress(result.summary())
        return result

    def _range(self, tmp: Path, event: str, index: int) -> Range:
        # Below Linux's ephemeral ports (32768+), where outgoing connections take theirs.
        low = 24000 + (index * 40 + secrets.randbelow(200) * 40) % 8000
        settings = Settings(
            data_dir=tmp,
            database_url=f"sqlite:///{tmp / 'check.db'}",
            event_slug=event,
            flag_secret=secrets.token_hex(16),
            secret_key=secrets.token_hex(16),
            admin_token=secrets.token_hex(16),
            port_range=f"{low}-{low + 39}",
            publish_ip="127.0.0.1",
            public_host="127.0.0.1",
            launch_pool=4,
        )
        ctx = Range.from_settings(settings)
        with _MIGRATING:  # Alembic's context is process-global: one upgrade at a time
            migrate.upgrade(ctx.store.engine)
        return ctx

    def _steps(
        self, result: Result, item: Loaded, ctx: Range, rec: EnvironmentReconciler, team: int
    ) -> None:
        """The steps in order, each timed and recorded; the first that fails ends the check."""
        run = _Run(self, result, item, ctx, rec, team)
        for name, fn in zip(
            STEPS, (run.build, run.start, run.health, run.solve, run.flag), strict=True
        ):
            if self.cancel.is_set():
                raise Cancelled
            self.progress(f"{item.slug}: {name}")
            t0 = time.monotonic()
            try:
                detail, ok = fn(), True
            except StepFailed as exc:
                detail, ok = str(exc), False
            result.steps.append(Step(name, ok, time.monotonic() - t0, detail))
            if not ok:
                return

    def _defended_steps(
        self, result: Result, item: Loaded, ctx: Range, rec: EnvironmentReconciler, team: int
    ) -> None:
        """A defended service: built, started, healthy, then its checker's conformance cases
        (``services.defence.conformance``), each a step of its own."""
        run = _Run(self, result, item, ctx, rec, team)
        gate = conformance_of(ctx, self.backend, item, team, self.cancel)
        env = item.spec.environment
        assert env is not None
        names = [s.name for s in env.services]

        def healthy() -> None:
            report = rec.run_once()
            errors = [*report.failed.values(), *report.jumpbox_errors.values()]
            if errors:
                raise StepFailed("; ".join(errors))
            self._wait_healthy(ctx.event_slug, names)

        def stop() -> None:
            for o in self.backend.containers(ctx.event_slug):
                if o.labels.get(ROLE) == "service" and o.labels.get(SERVICE) == gate.svc.target:
                    self.backend.remove_container(o)

        def reset() -> None:
            instances.reset(ctx, instances.Selection(challenge=item.slug), CHECK)
            healthy()

        cases = (
            ("build", run.build_defended),
            ("start", run.start),
            ("health", run.health),
            ("put and get", gate.put_and_get),
            ("unknown flag", gate.unknown_flag),
            ("concurrent", gate.concurrent),
            ("time", gate.time),
            ("down", lambda: gate.down(stop, healthy)),
            ("wiped", lambda: gate.wiped(reset)),
        )
        for name, fn in cases:
            if self.cancel.is_set():
                raise Cancelled
            self.progress(f"{item.slug}: {name}")
            t0 = time.monotonic()
            try:
                detail, ok = fn(), True
            except (StepFailed, Failed) as exc:
                detail, ok = str(exc), False
            result.steps.append(Step(name, ok, time.monotonic() - t0, detail or ""))
            if not ok:
                return

    # --- pieces -------------------------------------------------------------------------
    def _solver_image(self, item: Loaded, solver: SolverSpec) -> str:
        with self._lock:
            if self._solver_base is None:
                self._solver_base = solver_base_image(self.backend)
        with tempfile.TemporaryDirectory(prefix="rc-solver-") as d:
            context_dir = Path(d)
            shutil.copytree(item.directory / solver.path, context_dir / "solve")
            (context_dir / "files").mkdir()
            for rel in item.spec.files:
                shutil.copy(item.directory / rel, context_dir / "files" / Path(rel).name)
            (context_dir / "Dockerfile").write_text(
                f"FROM {self._solver_base}\nCOPY solve /solve\nCOPY files /files\nWORKDIR /solve\n"
            )
            tag = f"range/solver-{item.slug}:{images.context_digest(context_dir)[:16]}"
            _build(self.backend, context_dir, tag, f"{item.slug} (solver)")
        return tag

    def _wait_healthy(self, event: str, services: list[str]) -> str:
        deadline = time.monotonic() + self.health_timeout
        ready_since: float | None = None
        while True:
            if self.cancel.is_set():
                raise Cancelled
            seen = {
                o.labels.get(SERVICE): o
                for o in self.backend.containers(event)
                if o.labels.get(ROLE) == "service"
            }
            for name in services:
                obs = seen.get(name)
                if obs is not None and obs.status in ("exited", "dead", "restarting"):
                    head, _, tail = self.backend.why_down(obs, OUTPUT_LINES).partition(":\n")
                    raise StepFailed(
                        f"service {name} {obs.status} ({head})"
                        + (f":\n{_tail(tail)}" if tail else "")
                    )
            pending = [
                n
                for n in services
                if n not in seen
                or seen[n].status != "running"
                or seen[n].health not in (None, "healthy")
            ]
            if not pending:
                # A service without a healthcheck counts once it has stayed up for a while: a
                # crash on start must not pass as "running".
                ready_since = ready_since or time.monotonic()
                if time.monotonic() - ready_since >= SETTLE_SECONDS:
                    return ""
            else:
                ready_since = None
            if time.monotonic() > deadline:
                states = ", ".join(
                    f"{n}: {seen[n].health or seen[n].status}" if n in seen else f"{n}: missing"
                    for n in pending
                )
                raise StepFailed(f"not healthy after {self.health_timeout:.0f} s ({states})")
            time.sleep(0.5)

    def _teardown(self, ctx: Range | None, rec: EnvironmentReconciler | None, event: str) -> None:
        try:
            if ctx is not None and rec is not None:
                instances.down(ctx, instances.Selection(), CHECK)
                rec.run_once()
        except Exception:  # noqa: BLE001, S110 - the sweep below removes the rest
            pass
        finally:
            self.backend.sweep(event)
            if ctx is not None:
                ctx.store.dispose()
            with self._lock:
                self._events.discard(event)


@dataclass
class _Run:
    """One challenge's steps in its own range (each returns its detail or raises StepFailed);
    what a step makes (the solver's image, its output) the next one uses."""

    check: LiveCheck
    result: Result
    item: Loaded
    ctx: Range
    rec: EnvironmentReconciler
    team: int
    solver_image: str = ""

    @property
    def solver(self) -> SolverSpec | None:
        return solver_of(self.item)

    def build_defended(self) -> str:
        """A defended service's images, its checker's, and the wrappers the range adds."""
        try:
            builds.build_challenge(self.check.backend, self.item)
        except Exception as exc:  # noqa: BLE001 - the message names challenge and step
            raise StepFailed(str(exc)) from None
        return ""

    def build(self) -> str:
        solver = self.solver
        if solver is None:
            raise StepFailed(f"no solver: add {SolverSpec().path}/solve.py or a solver: key")
        try:
            builds.build_challenge(self.check.backend, self.item)
        except Exception as exc:  # noqa: BLE001 - the message names challenge and step
            raise StepFailed(str(exc)) from None
        self.solver_image = self.check._solver_image(self.item, solver)
        return ""

    def start(self) -> str:
        if self.item.spec.environment is None:
            return "no environment: the solver works on the attachments"
        instances.up(self.ctx, instances.Selection(challenge=self.item.slug), CHECK)
        report = self.rec.run_once()
        errors = [*report.failed.values(), *report.jumpbox_errors.values()]
        if errors:
            raise StepFailed("; ".join(errors))
        return f"{len(report.created)} containers"

    def health(self) -> str:
        env = self.item.spec.environment
        if env is None:
            return ""
        return self.check._wait_healthy(self.ctx.event_slug, [s.name for s in env.services])

    def solve(self) -> str:
        solver = self.solver
        assert solver is not None
        event = self.ctx.event_slug
        net = network_name(event, self.team) if self.item.spec.environment is not None else None
        job = Job(
            event,
            f"rc-{event}-solver",
            self.solver_image,
            tuple(solver.command),
            net,
            solver.timeout,
        )
        done = self.check.backend.run_job(job, self.check.cancel)
        if self.check.cancel.is_set():
            raise Cancelled
        out = done.stdout + done.stderr
        if done.timed_out:
            raise StepFailed(f"solver timed out after {solver.timeout} s\n{_tail(out)}")
        self.result.output = done.stdout
        if done.exit_code != 0:
            raise StepFailed(
                f"solver exited with code {done.exit_code}: {_tail(out, 1)}\n{_tail(out)}"
            )
        return ""

    def flag(self) -> str:
        lines = [ln.strip() for ln in self.result.output.splitlines() if ln.strip()]
        return check_flag(self.ctx, self.item, self.team, lines[-1] if lines else "")


def check_flag(ctx: Range, item: Loaded, team_id: int, printed: str) -> str:
    """The captured flag against what this team's instance holds; raises StepFailed."""
    spec = item.spec
    if not printed:
        raise StepFailed("the solver printed nothing")
    if spec.dynamic_flag is not None:
        shape = DynamicFlag(spec.dynamic_flag.prefix, spec.dynamic_flag.length)
        key = secret(ctx.settings.flag_secret)
        want = dynamic_flag(key, ctx.event_slug, team_id, item.slug, shape)
        if matches(Flag("static", want), printed):
            return "the team's dynamic flag"
        raise StepFailed(f"solver printed {printed[:200]!r}, not the validation team's flag {want}")
    rules = [Flag(f.type, f.content, f.case_insensitive) for f in spec.flags]
    if any(matches(r, printed) for r in rules):
        return "matches a flag of the challenge"
    raise StepFailed(f"solver printed {printed[:200]!r}, which matches none of the flags")


def solver_base_image(backend: Backend) -> str:
    """``range/solver-base``: the base image with Python 3, built once per content."""
    with tempfile.TemporaryDirectory(prefix="rc-solver-base-") as d:
        (Path(d) / "Dockerfile").write_text(SOLVER_BASE_DOCKERFILE)
        tag = f"range/solver-base:{images.context_digest(Path(d))[:16]}"
        _build(backend, Path(d), tag, "(solver base)")
    return tag


def _build(backend: Backend, context: Path, tag: str, label: str) -> None:
    try:
        backend.build_image(context, tag, label)
    except Exception as exc:  # noqa: BLE001 - the builder's message names the step at fault
        raise StepFailed(str(exc)) from None


def junit_xml(results: list[Result], warnings: dict[str, list[str]] | None = None) -> bytes:
    """One ``testcase`` per challenge; a failure names the step and why; timings per step,
    then the challenge's lint warnings (``warnings``: slug -> lines) in ``system-out``."""
    failures = sum(1 for r in results if not r.ok)
    suite = ET.Element(
        "testsuite",
        name="challenges",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="challenges.check",
            name=r.slug,
            file=str(r.path),
            time=f"{r.seconds:.3f}",
        )
        bad = r.failure
        if bad is not None:
            first = bad.detail.splitlines()[0] if bad.detail else ""
            fail = ET.SubElement(case, "failure", type=bad.name, message=f"{bad.name}: {first}")
            fail.text = bad.detail
        lines = [f"{s.name}: {'ok' if s.ok else 'FAILED'} in {s.seconds:.2f} s" for s in r.steps]
        lines += [f"warning: {w}" for w in (warnings or {}).get(r.slug, [])]
        ET.SubElement(case, "system-out").text = "\n".join(lines)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
