"""Hot reads whose SQL is compiled once per process.

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
compiled. Datetimes are adapted for the database as Django adapts them."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models
from django.db.models.query import (  # type: ignore[attr-defined]
    ValuesIterable,
    _get_from_db,
    get_related_populators,
)

# A primary key no row has, for compiling queries by id.
SENTINEL_PK = -7_000_000_001


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


class CompiledQuery[M: models.Model]:
    def __init__(self, build: Callable[..., "models.QuerySet[M]"], *sentinels: Any):
        self._build = build
        self._sentinels = sentinels
        self._by_alias: dict[str, _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        queryset = self._build(*self._sentinels)
        query = queryset.query
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
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
        fetch_mode = queryset._fetch_mode
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

    def _rows(self, params: tuple[Any, ...], using: str) -> tuple[_Compiled, list[Any]]:
        if len(params) != len(self._sentinels):
            raise TypeError(f"expected {len(self._sentinels)} parameters, got {len(params)}")
        compiled = self._by_alias.get(using)
        if compiled is None:
            compiled = self._by_alias[using] = self._compile(using)
        values = [_adapt(params[v], using) if kind == "arg" else v for kind, v in compiled.slots]
        with connections[using].cursor() as cursor:
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

    def all(self, *params: Any, using: str = "default") -> list[M]:
        compiled, rows = self._rows(params, using)
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

    def first(self, *params: Any, using: str = "default") -> M | None:
        rows = self.all(*params, using=using)
        return rows[0] if rows else None

    def values_rows(self, *params: Any, using: str = "default") -> list[dict[str, Any]]:
        compiled, rows = self._rows(params, using)
        names = compiled.names
        if names is None:
            raise TypeError("not a values() query: use .all()")
        # As ValuesIterable: the first len(names) columns are the values.
        return [dict(zip(names, row, strict=False)) for row in rows]
