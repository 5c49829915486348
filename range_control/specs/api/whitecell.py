"""The white cell: graded tasks, submissions, grade cards, the grading queue and sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, RootModel

from range_control.specs.api.base import VIEW, Body, View


# --- graded tasks --------------------------------------------------------------------------
class CriterionOut(View):
    id: str
    title: str
    points: int = Field(description="the most a grader may give")
    guidance: str = ""


class SubmissionOut(View):
    id: int
    version: int
    created_at: datetime
    late: bool
    text: str | None
    file_name: str | None
    file_size: int | None
    by: str | None = Field(default=None, description="the member, when one signed in")


class GradeLineOut(View):
    criterion: str
    title: str
    points: int
    most: int
    comment: str = ""


class TaskGradeOut(View):
    """A team's published grade: per criterion, the late penalty, the total."""

    lines: list[GradeLineOut]
    penalty: int = Field(description="points taken for lateness (0 if none)")
    total: int
    most: int


class TaskOut(View):
    """What a team sees of a graded task besides the challenge itself."""

    deliverable: Literal["text", "file", "both"]
    due_at: datetime | None
    late_rule: str = Field(description="refuse, accept, or penalty N%")
    closed: bool = Field(description="past the due time with late: refuse")
    upload_types: list[str]
    upload_max_bytes: int
    rubric: list[CriterionOut]
    submissions: list[SubmissionOut]
    published: bool
    grade: TaskGradeOut | None = None


class GradeCardOut(View):
    id: int
    role: str = Field(description="first, second or final (a moderator's, or a regrade)")
    grader: str
    scores: dict[str, dict[str, Any]]
    total: int
    created_at: datetime
    replaced_at: datetime | None


class QueueRowOut(View):
    code: str = Field(description="the team as graders see it until grades are published")
    team: str | None = Field(description="the team's name, once the task is published")
    version: int
    submitted_at: datetime
    late: bool
    status: str = Field(
        description="ungraded, awaiting second grader, to moderate, graded, agreed, final"
    )
    graders: list[str]
    total: int | None
    disagreements: list[str] = Field(default_factory=list, description="criteria to moderate")


class TaskSummaryOut(View):
    slug: str
    name: str
    due_at: datetime | None
    submitted: int
    graded: int
    to_moderate: int
    published_at: datetime | None


class TaskSheetOut(View):
    """One team's submission as a grader sees it (blind until published)."""

    slug: str
    name: str
    code: str
    team: str | None
    rubric: list[CriterionOut]
    second_grader: bool
    moderation_threshold: int
    published_at: datetime | None
    submissions: list[SubmissionOut]
    cards: list[GradeCardOut]
    status: str
    disagreements: list[str]
    ground_truth: list[GroundTruthOut] = Field(
        default_factory=list,
        description="an incident report: the red cell's actions against the team up to it",
    )
    observed: list[ObservedOut] = Field(
        default_factory=list,
        description="an incident report: the commands the red cell ran against the team up to "
        "it, on its jumpbox",
    )


class TaskSummaryList(RootModel[list[TaskSummaryOut]]):
    model_config = VIEW


class QueueList(RootModel[list[QueueRowOut]]):
    model_config = VIEW


class GradeIn(Body):
    code: str = Field(min_length=1, max_length=20, description="the team's code in the queue")
    scores: dict[str, dict[str, Any]] = Field(
        description="per criterion id: {points, comment}",
        examples=[{"accuracy": {"points": 8, "comment": "well supported"}}],
    )
    moderate: bool = Field(default=False, description="the grade that counts (a moderation)")


class GroundTruthOut(View):
    """A red cell action against the team whose incident report is graded (blind: no team)."""

    id: int
    at: datetime
    service: str | None
    technique: str
    outcome: str
    summary: str
    named_in: list[int] = Field(description="the report's versions the graders marked naming it")


class ObservedOut(View):
    """A command the red cell ran against the team (blind: the game addresses' team hidden)."""

    at: datetime
    service: str | None
    command: str


class DetectionIn(Body):
    action: int = Field(ge=1, description="the red cell action's id")
    version: int = Field(ge=1, description="the report's version that names it")
    named: bool = Field(default=True, description="false: take the mark back")
