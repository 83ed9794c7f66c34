"""Hot statements: SQL compiled once per process, for escrows/hot.py, which lists every one.

Each runs compiled only where it pays: with HOT_STATEMENTS on (the default) and on PostgreSQL,
where `make bench` measured it. Otherwise (`hot()` is False) each runs as the plain ORM it
stands for: a CompiledQuery evaluates its queryset, a CompiledInsert saves with
force_insert, a CompiledUpdate saves with update_fields; the results are the same either way.

Profiling the confirm call showed Django compiling SQL as its largest single cost: about 2 ms of
Python for one four-table select on this project's 2-core machines, against 0.3 ms for running
it. A `CompiledQuery` builds its queryset once with sentinel parameters, keeps the SQL and the
compiler's column map, and then runs that same SQL with new parameters, turning rows into model
instances (select_related objects and annotations included) as Django's own ModelIterable does,
or into dicts for a values() queryset as ValuesIterable does.

Only for querysets whose SQL does not depend on the values passed in (equality and range
filters, fixed ordering and slicing). The sentinels must be values no constant of the query
equals (say -7_000_000_001 or "__sentinel__"); each must come out of the compile as a parameter
of its own, else the first call refuses. Constants of the query (a status literal, say) stay as
compiled. Datetimes are adapted for the database as Django adapts them.

`CompiledInsert` and `CompiledUpdate` do the same for the hot writes (an event row, a
milestone's or escrow's status change): `create()` / `save(update_fields=...)` with the SQL built
once, values prepared by each field as Django's own save prepares them (pre_save, then
get_db_prep_save). Only for models that neither override save() nor have pre/post-save
receivers (checked on every call: with a receiver the ORM save runs instead).

On PostgreSQL these statements run as prepared statements (`DB_PREPARE_HOT`, on by default):
Django sends every statement unprepared (simple protocol, client-side binding), so PostgreSQL
parses and plans each one again; the confirm's own SQL runs about twice as fast prepared
(`make bench`, pgbench rows). The statements are prepared per pooled connection on first use.
Off for a pooler that cannot keep prepared statements (pgbouncer before 1.21 in transaction
mode)."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models
from django.db.models.query import (  # type: ignore[attr-defined]  # private ORM helpers, not in the stubs
    ValuesIterable,
    _get_from_db,
    get_related_populators,
)
from django.db.models.signals import post_save, pre_save

# A primary key no row has, for compiling queries by id.
SENTINEL_PK = -7_000_000_001


def hot(using: str = "default") -> bool:
    """Whether the hot statements run compiled on this connection: HOT_STATEMENTS on and
    PostgreSQL. Read on every call, so a test can turn it off."""
    return getattr(settings, "HOT_STATEMENTS", True) and connections[using].vendor == "postgresql"


@dataclass
class _Compiled:
    sql: str
    # For each SQL parameter: ("arg", i) takes the i-th call argument, ("const", v) is v.
    slots: list[tuple[str, Any]]
    converters: dict[int, Any]
    # values() querysets: the dict keys, in column order; None for model instances.
    names: list[str] | None
    from_db: Callable[..., Any] | None = None
    init_list: list[str] | None = None
    start: int = 0
    end: int = 0
    populators: list[Any] | None = None
    annotations: dict[str, int] | None = None


def _adapt(value: Any, alias: str) -> Any:
    if isinstance(value, datetime):
        return connections[alias].ops.adapt_datetimefield_value(value)
    return value


_preparing_cursor_class: Any = None


def _preparing_cursor() -> Any:
    """psycopg's server-binding cursor, preparing every statement it executes (cached per
    connection by psycopg, so each statement is parsed and planned once per connection)."""
    global _preparing_cursor_class
    if _preparing_cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                kwargs["prepare"] = True
                # The stubs declare ServerBindingCursor without psycopg's Cursor base.
                return super().execute(query, params, **kwargs)  # type: ignore[misc]

        _preparing_cursor_class = PreparingCursor
    return _preparing_cursor_class


@contextmanager
def hot_cursor(using: str = "default") -> Iterator[Any]:
    """A cursor for the statements above. On PostgreSQL with DB_PREPARE_HOT: a preparing psycopg
    cursor, one per connection and reused (creating a cursor and Django's wrapper per statement
    was a tenth of a statement's Python), behind Django's checks and error translation: a broken
    transaction refuses, psycopg's errors come out as django.db's. While anything observes the
    queries (query logging, an execute_wrapper) it is Django's cursor wrapper around a fresh
    preparing cursor instead, so CaptureQueriesContext and wrappers see every statement.
    Elsewhere: Django's ordinary cursor."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not getattr(settings, "DB_PREPARE_HOT", False):
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    if connection.queries_logged or connection.execute_wrappers:
        with connection.wrap_database_errors:
            # Django's private wrapper (checks, error translation, query logging) for a raw cursor.
            cursor = connection._prepare_cursor(_preparing_cursor()(connection.connection))  # type: ignore[attr-defined]
        with cursor:
            yield cursor
        return
    connection.validate_no_broken_transaction()
    raw = connection.connection
    shared = getattr(raw, "_hot_cursor", None)
    if shared is None or shared.closed:
        shared = raw._hot_cursor = _preparing_cursor()(raw)
        shared._hot_busy = False
    if shared._hot_busy:  # a hot statement inside another's block: a cursor of its own
        with connection.wrap_database_errors, _preparing_cursor()(raw) as cursor:
            yield cursor
        return
    shared._hot_busy = True
    try:
        with connection.wrap_database_errors:
            yield shared
    finally:
        shared._hot_busy = False


class CompiledQuery[M: models.Model]:
    def __init__(
        self,
        build: Callable[..., "models.QuerySet[M]"],
        *sentinels: Any,
        prelude: str = "",
        plain: Callable[..., "models.QuerySet[M]"] | None = None,
    ):
        """`build(*params)`: the queryset, compiled once with the sentinels as its parameters.
        `plain(*params)`: the queryset evaluated when the statement does not run compiled, where
        it differs from `build` (which may use SQL only PostgreSQL has); the same rows.
        `prelude`: common table expressions put before the compiled SELECT (`WITH prelude
        SELECT ...`), say a data-modifying one that shares the round trip; their %s parameters
        are the calls' `prelude_params`, in order. It has no plain form: call it only when
        `hot()`."""
        self._build = build
        self._plain = plain or build
        self._sentinels = sentinels
        self._prelude = prelude
        self._by_alias: dict[str, _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        queryset = self._build(*self._sentinels)
        query = queryset.query
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if self._prelude:
            if sql.lstrip().upper().startswith("WITH"):
                raise ImproperlyConfigured("CompiledQuery: a prelude before a query that has its own WITH")
            sql = f"WITH {self._prelude} {sql}"
        adapted = [_adapt(s, alias) for s in self._sentinels]
        slots: list[tuple[str, Any]] = []
        for value in params:
            hits = [i for i, s in enumerate(adapted) if type(s) is type(value) and s == value]
            slots.append(("arg", hits[0]) if hits else ("const", value))
        if {i for kind, i in slots if kind == "arg"} != set(range(len(self._sentinels))):
            raise ImproperlyConfigured(
                f"CompiledQuery: the sentinels {self._sentinels!r} are not all parameters of {params!r}"
            )
        select = compiler.select
        converters = compiler.get_converters([s[0] for s in select[: compiler.col_count]])
        if queryset._iterable_class is ValuesIterable:
            names = (
                list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select]
            )
            return _Compiled(sql=sql, slots=slots, converters=converters, names=names)
        if queryset._iterable_class is not models.query.ModelIterable:
            raise ImproperlyConfigured("CompiledQuery: only model and values() querysets")
        klass_info = compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]  # Django private API
        return _Compiled(
            sql=sql,
            slots=slots,
            converters=converters,
            names=None,
            from_db=_get_from_db(klass_info["model"], fetch_mode),
            init_list=[f[0].target.attname for f in select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, select, alias, fetch_mode),
            annotations=dict(compiler.annotation_col_map or {}),
        )

    def _plain_rows(
        self, params: tuple[Any, ...], using: str, prelude_params: Sequence[Any], values: bool
    ) -> Any:
        """The plain ORM: the queryset evaluated as Django evaluates it."""
        if len(params) != len(self._sentinels):
            raise TypeError(f"expected {len(self._sentinels)} parameters, got {len(params)}")
        if self._prelude or prelude_params:
            raise TypeError("a query with a prelude runs only compiled (hot())")
        queryset = self._plain(*params)
        if (queryset._iterable_class is ValuesIterable) != values:
            raise TypeError(
                "a values() query: use .values_rows()" if not values else "not a values() query: use .all()"
            )
        return list(queryset.using(using))

    def _rows(
        self, params: tuple[Any, ...], using: str, prelude_params: Sequence[Any] = ()
    ) -> tuple[_Compiled, list[Any]]:
        if len(params) != len(self._sentinels):
            raise TypeError(f"expected {len(self._sentinels)} parameters, got {len(params)}")
        if bool(prelude_params) != bool(self._prelude):
            raise TypeError("prelude_params go with a prelude, and only with one")
        compiled = self._by_alias.get(using)
        if compiled is None:
            compiled = self._by_alias[using] = self._compile(using)
        values = [_adapt(params[v], using) if kind == "arg" else v for kind, v in compiled.slots]
        if prelude_params:
            values[:0] = [_adapt(v, using) for v in prelude_params]
        with hot_cursor(using) as cursor:
            cursor.execute(compiled.sql, values)
            rows = cursor.fetchall()
        if compiled.converters:
            # As SQLCompiler.apply_converters, with this thread's connection (a compiler is tied to
            # the connection of the thread that compiled it, and connections are per thread).
            connection = connections[using]
            converters = list(compiled.converters.items())
            converted = []
            for row in map(list, rows):
                for position, (convs, expression) in converters:
                    value = row[position]
                    for converter in convs:
                        value = converter(value, expression, connection)
                    row[position] = value
                converted.append(row)
            rows = converted
        return compiled, rows

    def all(self, *params: Any, using: str = "default", prelude_params: Sequence[Any] = ()) -> list[M]:
        if not hot(using):
            return self._plain_rows(params, using, prelude_params, values=False)
        compiled, rows = self._rows(params, using, prelude_params)
        if compiled.names is not None:
            raise TypeError("a values() query: use .values_rows()")
        assert compiled.from_db is not None and compiled.populators is not None
        out: list[M] = []
        for row in rows:
            obj = compiled.from_db(using, compiled.init_list, row[compiled.start : compiled.end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in (compiled.annotations or {}).items():
                setattr(obj, name, row[position])
            out.append(obj)
        return out

    def first(self, *params: Any, using: str = "default", prelude_params: Sequence[Any] = ()) -> M | None:
        rows = self.all(*params, using=using, prelude_params=prelude_params)
        return rows[0] if rows else None

    def values_rows(self, *params: Any, using: str = "default") -> list[dict[str, Any]]:
        if not hot(using):
            return self._plain_rows(params, using, (), values=True)
        compiled, rows = self._rows(params, using)
        names = compiled.names
        if names is None:
            raise TypeError("not a values() query: use .all()")
        # As ValuesIterable: the first len(names) columns are the values.
        return [dict(zip(names, row, strict=False)) for row in rows]


# -- writes ---------------------------------------------------------------------------------


def _column(field: object) -> str:
    """The column of a field the statement writes (a field without one was refused already)."""
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise ImproperlyConfigured(f"{field} has no column")
    return column


def _plain_save(model: type[models.Model]) -> bool:
    """True when a save of `model` is only its SQL: no save() of its own, no save receivers."""
    return (
        model.save is models.Model.save
        and not pre_save.has_listeners(model)
        and not post_save.has_listeners(model)
    )


class CompiledInsert[M: models.Model]:
    """`Model.objects.create(...)` for instances of one model: every concrete field but an
    unset auto primary key, RETURNING the key."""

    def __init__(self, model: type[M]):
        self._model = model
        self._sql: dict[str, tuple[str, list[Any]]] = {}

    def _compile(self, using: str) -> tuple[str, list[Any]]:
        if using not in self._sql:
            connection = connections[using]
            qn = connection.ops.quote_name
            meta = self._model._meta
            fields = [f for f in meta.concrete_fields if not f.primary_key]
            if any(hasattr(f, "get_placeholder") for f in fields):
                raise ImproperlyConfigured(f"CompiledInsert: a field of {meta.label} has its own placeholder")
            # Names from the model's meta, every value a parameter.
            table, columns = qn(meta.db_table), ", ".join(qn(_column(f)) for f in fields)
            marks, pk = ", ".join(["%s"] * len(fields)), f"{qn(meta.db_table)}.{qn(_column(meta.pk))}"
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}"  # noqa: S608
            self._sql[using] = (sql, fields)
        return self._sql[using]

    def create(self, obj: M, using: str = "default") -> M:
        if not hot(using) or obj.pk is not None or not _plain_save(self._model):
            obj.save(force_insert=True, using=using)
            return obj
        connection = connections[using]
        sql, fields = self._compile(using)
        values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
        with hot_cursor(using) as cursor:
            cursor.execute(sql, values)
            obj.pk = cursor.fetchone()[0]
        obj._state.adding = False
        obj._state.db = using
        return obj


class CompiledUpdate[M: models.Model]:
    """`obj.save(update_fields=fields)` for instances of one model: UPDATE of those columns by
    primary key; like the ORM's, it fails when no row was updated."""

    def __init__(self, model: type[M], *fields: str):
        self._model = model
        self._names = fields
        self._sql: dict[str, tuple[str, list[Any]]] = {}

    def _compile(self, using: str) -> tuple[str, list[Any]]:
        if using not in self._sql:
            connection = connections[using]
            qn = connection.ops.quote_name
            meta = self._model._meta
            fields = [meta.get_field(name) for name in self._names]
            if any(hasattr(f, "get_placeholder") or not f.concrete for f in fields):
                raise ImproperlyConfigured(f"CompiledUpdate: {self._names} of {meta.label}")
            # Names from the model's meta, every value a parameter.
            table, sets = qn(meta.db_table), ", ".join(f"{qn(_column(f))} = %s" for f in fields)
            sql = f"UPDATE {table} SET {sets} WHERE {table}.{qn(_column(meta.pk))} = %s"  # noqa: S608
            self._sql[using] = (sql, fields)
        return self._sql[using]

    def save(self, obj: M, using: str = "default") -> None:
        if not hot(using) or not _plain_save(self._model):
            obj.save(update_fields=list(self._names), using=using)
            return
        connection = connections[using]
        sql, fields = self._compile(using)
        values = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
        values.append(obj.pk)
        with hot_cursor(using) as cursor:
            cursor.execute(sql, values)
            if cursor.rowcount != 1:
                raise DatabaseError("Save with update_fields did not affect any rows.")
