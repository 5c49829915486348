"""Hot-path statements: a Core statement compiled once per dialect, run on the driver's cursor.

``Connection.execute(statement)`` costs about 25 microseconds above the database's own work on
this project's hot paths (the statement's cache key is rebuilt and looked up, the execution
context and result object are assembled, events are dispatched), against 1 to 5 for the same
statement on the driver. The few statements every request runs (authentication, a flag attempt)
are written as Core statements like any other and wrapped in :class:`Prepared`: compiled once
for each dialect, their parameters and results converted by the column types' own processors
(SQLAlchemy's public ``bind_processor`` / ``result_processor``), so a row reads exactly as
``Connection.execute`` would give it. They run inside the caller's transaction, on its
connection; a driver error comes out as SQLAlchemy's exception (``IntegrityError``,
``OperationalError``...), and a broken connection is invalidated as SQLAlchemy would.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

__all__ = ["Prepared"]

_Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # parameter names, in the order the driver takes them
    fixed: Mapping[str, Any]  # values written into the statement (literals, LIMIT 1)
    positional: bool
    binds: tuple[_Processor, ...]  # one per name
    columns: tuple[Any, ...]  # the result columns
    row: Callable[..., Any]  # a named tuple: row.column as with Connection.execute
    # One per result column, made at the first execution: a type's processor may depend on
    # the type the driver reports (PostgreSQL's numeric types do), as in SQLAlchemy itself.
    results: tuple[_Processor, ...] | None = None

    def params(self, given: Mapping[str, Any]) -> Any:
        values = []
        for name, bind in zip(self.names, self.binds, strict=True):
            if name in given:
                value = given[name]
            elif name in self.fixed:
                value = self.fixed[name]
            else:
                raise TypeError(f"missing parameter {name!r} for {self.sql!r}")
            values.append(bind(value) if bind is not None and value is not None else value)
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))

    def convert(self, raw: tuple[Any, ...], description: Any, dialect: Dialect) -> Any:
        if self.results is None:
            self.results = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                for c, d in zip(self.columns, description, strict=True)
            )
        pairs = zip(self.results, raw, strict=True)
        return self.row(*(p(v) if p is not None else v for p, v in pairs))


def _compile(statement: Executable, dialect: Dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect)
    if "POSTCOMPILE" in str(compiled):
        raise ValueError(
            f"a prepared statement takes no IN list or expanding parameter: {compiled}"
        )
    positional = bool(compiled.positional)
    by_name = {name: bind for bind, name in compiled.bind_names.items()}  # as rendered
    names = tuple(compiled.positiontup or ()) if positional else tuple(by_name)
    binds = tuple(by_name[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
    columns = tuple(getattr(statement, "exported_columns", ()))
    keys = [c.key or f"col{i}" for i, c in enumerate(columns)]
    row = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
    fixed = {n: v for n, v in compiled.params.items() if v is not None}
    return _Plan(str(compiled), names, fixed, positional, binds, columns, row)


class Prepared:
    """A Core statement (select, or DML with RETURNING) run on the driver, within the caller's
    transaction. Parameters are the statement's ``bindparam`` names, as keywords."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, str, str], _Plan] = {}

    def _plan(self, conn: Connection) -> _Plan:
        dialect = conn.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _compile(self.statement, dialect)
        return plan

    def rows(self, conn: Connection, **params: Any) -> list[Any]:
        plan = self._plan(conn)
        args = plan.params(params)
        driver = conn.connection.driver_connection
        try:
            cursor = driver.execute(plan.sql, args)  # type: ignore[union-attr]
            description = cursor.description
            raw = cursor.fetchall() if description is not None else []
        except conn.dialect.loaded_dbapi.Error as exc:
            lost = conn.dialect.is_disconnect(exc, driver, None)
            if lost:
                conn.invalidate(exc)
            # Parameters stay out of the message: a submitted flag must not reach a log.
            raise DBAPIError.instance(
                plan.sql,
                args,
                exc,
                conn.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=conn.dialect,
            ) from exc
        return [plan.convert(r, description, conn.dialect) for r in raw]

    def one_or_none(self, conn: Connection, **params: Any) -> Any:
        found = self.rows(conn, **params)
        if len(found) > 1:
            raise ValueError(f"more than one row for {self._plan(conn).sql!r}")
        return found[0] if found else None

    def scalar(self, conn: Connection, **params: Any) -> Any:
        found = self.rows(conn, **params)
        return found[0][0] if found else None

    def run(self, conn: Connection, **params: Any) -> None:
        self.rows(conn, **params)
