"""Mutation testing of the money and access rules, with mutmut (configured in pyproject.toml).

    .venv/bin/python tools/mutation.py run [mutant names or globs]   # mutate and test
    .venv/bin/python tools/mutation.py report [--markdown]           # the table and the survivors
    .venv/bin/python tools/mutation.py show NAME                     # one mutant's change
    .venv/bin/python tools/mutation.py equivalent NAME "reason"      # classify a survivor

`make mutation` is run then report. See docs/mutation.md for the method and the latest table.

What this adds to plain `mutmut run`:
- The services are wrapped in `@transaction.atomic(durable=True)`, and mutmut 3 leaves every
  decorated function alone (it cannot know what a decorator does to a copy). That decorator only
  opens a transaction, so here the bodies are mutated like any other function: the decorator stays
  on the trampoline mutmut puts in the function's place and is taken off the mutated copies the
  trampoline calls, so each call still runs in exactly one durable transaction.
- The SQL that core.compiled builds once per process is built afresh for each mutant, so a
  mutant in a function that builds a query is tested against the query it builds.
- Killed mutants stay killed until their function changes, but every other verdict (survived,
  no tests, timeout) is tried again on each run, so a new test gets its chance at them.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENT_FILE = ROOT / "docs" / "mutation-equivalent.txt"
RUN_RECORD = MUTANTS / "mutation-run.json"

# mutmut's exit codes, as mutmut.stats.status_by_exit_code reads them.
KILLED_CODES = {1, 3}
SKIPPED = 34
NO_TESTS = 5  # pytest's exit code when a session collected no test
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    37: "killed",  # caught by the type check, which this project does not configure
    None: "not run",
}


def _status(code: int | None) -> str:
    return STATUS.get(code, "suspicious")


# -- the adapter ------------------------------------------------------------------------------


def _patch_mutmut() -> None:
    import libcst as cst
    import libcst.matchers as m
    from libcst.metadata import PositionProvider
    from mutmut.mutation import file_mutation

    atomic = m.Attribute(value=m.Name("transaction"), attr=m.Name("atomic"))

    def only_atomic(function: cst.FunctionDef) -> bool:
        return bool(function.decorators) and all(
            m.matches(d.decorator, atomic | m.Call(func=atomic)) for d in function.decorators
        )

    skip = file_mutation.MutationVisitor._skip_node_and_children

    def skip_node_and_children(self: file_mutation.MutationVisitor, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef) and only_atomic(node):
            # The checks mutmut makes of any function, less its refusal of decorated ones.
            position = self.get_metadata(PositionProvider, node, None)
            if position and position.start.line in self._ignored_node_lines:
                self.ignored_functions.add(node.name.value)
                return True
            return node.name.value in file_mutation.NEVER_MUTATE_FUNCTION_NAMES
        return skip(self, node)

    arrangement = file_mutation.function_trampoline_arrangement

    def function_trampoline_arrangement(function, mutants, class_name):
        declarations, nodes, assignments, names = arrangement(function, mutants, class_name)
        if only_atomic(function):
            # nodes[0] is the trampoline (it keeps the transaction); the rest are the copies.
            nodes = [nodes[0], *(node.with_changes(decorators=()) for node in nodes[1:])]
        return declarations, nodes, assignments, names

    file_mutation.MutationVisitor._skip_node_and_children = skip_node_and_children  # type: ignore[method-assign]  # on purpose
    file_mutation.function_trampoline_arrangement = function_trampoline_arrangement

    import mutmut.__main__ as mutmut_main

    collect = mutmut_main.collect_source_file_mutation_data

    def collect_without_equivalents(*, mutant_names):
        # A mutant listed as equivalent cannot be killed, and a survivor runs every test of its
        # function: it is left out while its function stays as it was when it was listed.
        mutants, by_path = collect(mutant_names=mutant_names)
        if mutant_names:
            return mutants, by_path
        listed = load_equivalents()
        kept = []
        for data, name, result in mutants:
            function = name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
            if result is None and f"{_local(name)} {data.hash_by_function_name.get(function, '')}" in listed:
                data.exit_code_by_key[name] = result = SKIPPED
            kept.append((data, name, result))
        for data in by_path.values():
            data.save()
        return kept, by_path

    mutmut_main.collect_source_file_mutation_data = collect_without_equivalents

    # mutmut runs the whole suite twice before the first mutant: once to learn which tests call
    # which function (that pass stops the run if any test fails) and once more "clean", to see
    # they pass. When the first pass has just run every test in this process, the second (three
    # minutes) can only repeat its answer.
    from mutmut.workers.isolation import ForkRunner

    collect_stats = mutmut_main.run_stats_collection
    run_clean_tests = ForkRunner.run_clean_tests
    every_test_passed_just_now = False

    def run_stats_collection(runner, tests=None):
        nonlocal every_test_passed_just_now
        collect_stats(runner, tests)  # exits the run unless every test passed
        every_test_passed_just_now = not tests

    def run_clean_tests_once(self, tests):
        if every_test_passed_just_now:
            print("    (every test passed in the pass that learnt them, just now)", flush=True)
            return 0
        return run_clean_tests(self, tests)

    mutmut_main.run_stats_collection = run_stats_collection
    ForkRunner.run_clean_tests = run_clean_tests_once  # type: ignore[method-assign]  # on purpose

    from mutmut.runners import harness

    run_tests = harness.PytestRunner.run_tests

    def run_tests_with_fresh_queries(self, *, mutant_name, tests):
        # Up to three sessions: the mutated module's own tests, then (if they all pass) the
        # rest of its package's tests, then the rest. pytest collects every file a session names
        # before it runs the first test, and a function that a thousand tests call names a
        # hundred files: collecting them took a second of each such mutant, most of which its
        # own tests kill.
        profile_to = os.environ.get("MUTATION_PROFILE")  # a folder: where each mutant's time goes
        if not profile_to:
            return _in_stages(self, mutant_name, tests)
        import cProfile

        profiler = cProfile.Profile()
        try:
            return profiler.runcall(_in_stages, self, mutant_name, tests)
        finally:
            profiler.dump_stats(str(Path(profile_to) / f"{mutant_name}.prof"))

    def _in_stages(self: harness.PytestRunner, mutant_name: str | None, tests: list[str]) -> int:
        parts = _likely_killers_first(mutant_name, tests)
        if not any(parts):
            return run_tests(self, mutant_name=mutant_name, tests=[])  # mutmut's "all of them"
        code = NO_TESTS
        for part in parts:
            if part:
                _forget_compiled_queries()
                code = run_tests(self, mutant_name=mutant_name, tests=part)
                if code != NO_TESTS and code != 0:
                    return code
        return code

    class RecordKiller:
        # The test that failed, so this function's next mutants run it first (_killers_of).
        def __init__(self, mutant_name: str) -> None:
            self.mutant_name = mutant_name

        def pytest_runtest_logreport(self, report: Any) -> None:
            if report.failed:
                _record_killer(self.mutant_name, report.nodeid)

    harness.PytestRunner.run_tests = run_tests_with_fresh_queries  # type: ignore[method-assign]  # on purpose

    class FreshQueriesPerTest:
        # Also per test: the coverage pass then sees every test that reaches a query builder,
        # not only the first one to build it in the process.
        @staticmethod
        def pytest_runtest_setup(item: object) -> None:
            _forget_compiled_queries()

    execute_pytest = harness.PytestRunner.execute_pytest

    def execute_pytest_with_fresh_queries(self, params, **kwargs):
        plugins = [*kwargs.get("plugins", []), FreshQueriesPerTest()]
        from mutmut.mutation.trampoline import get_mutant_under_test

        mutant_name = get_mutant_under_test()
        if "__mutmut_" in mutant_name:
            plugins.append(RecordKiller(mutant_name))
        kwargs["plugins"] = plugins
        return execute_pytest(self, params, **kwargs)

    harness.PytestRunner.execute_pytest = execute_pytest_with_fresh_queries  # type: ignore[method-assign]  # on purpose


def _killers_file(mutant_name: str) -> Path | None:
    folder = os.environ.get("MUTATION_RUN_DIR")
    if not folder:
        return None
    function = mutant_name.rsplit("__mutmut_", 1)[0]
    return Path(folder) / "killers" / re.sub(r"[^\w.-]", "_", function)


def _record_killer(mutant_name: str, test: str) -> None:
    path = _killers_file(mutant_name)
    if path is None:
        return
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as killers:  # one short line, appended: safe beside the other worker
        killers.write(test + "\n")


def _killers_of(mutant_name: str | None) -> list[str]:
    """The tests that killed this function's mutants earlier in this run, the latest first."""
    path = _killers_file(mutant_name or "")
    if path is None or not path.exists():
        return []
    latest = list(dict.fromkeys(reversed(path.read_text().split())))
    return latest[:KILLERS_TRIED_FIRST]


# How many of a function's known killers a mutant of it tries, in a session of their own, before
# its other tests: mutants of one function mostly die by the same few tests.
KILLERS_TRIED_FIRST = 3


def _likely_killers_first(mutant_name: str | None, tests: Iterable[str]) -> list[list[str]]:
    """The order a mutant's tests run in, stopping at the first failure: mutmut hands them over as
    a set, so a killed mutant of a function nearly every test calls (funding, say) ran dozens of
    unrelated tests before one that checks it.

    First the tests that killed the same function's other mutants earlier in this run (a session
    of one or a few test files, where the stages below collect every file they name). Then, since
    the tests mirror the code (tests/services/test_funding*.py for escrows/services/funding.py),
    the mutated module's own test files, then the other tests of its package's folder
    (tests/services/ for a helper module of the services that has no test file of its own), then
    the rest; within each, the fastest first. A mutant that survives has run every one of its tests
    either way."""
    from mutmut.state import state

    durations = state().duration_by_test
    module = re.match(r"(.+?)\.x[_ǁ]", mutant_name or "")
    parts = module.group(1).split(".") if module else []
    own = f"/test_{parts[-1].lstrip('_')}" if parts else None
    # escrows.services._internal -> tests/services/; a module at the top of its app has none.
    folder = f"tests/{'/'.join(parts[1:-1])}/" if len(parts) > 2 else None

    def stage(test: str) -> int:
        path = test.split("::", 1)[0]
        if own and own in path:
            return 0
        if folder and path.startswith(folder):
            return 1
        return 2

    def order(test: str) -> tuple[float, str]:
        return (durations.get(test, 0.0), test)

    ordered = sorted(tests, key=order)
    known = [t for t in _killers_of(mutant_name) if t in set(ordered)]
    rest = [t for t in ordered if t not in known]
    return [known, *([t for t in rest if stage(t) == n] for n in range(3))]


# The hot queries found by the last scan, and how many modules were loaded then: each mutant
# forgets them before every test, and scanning every module's names each time cost 10 ms.
_compiled_found: tuple[int, list[Any]] = (0, [])


def _forget_compiled_queries() -> None:
    """core.compiled builds each hot query's SQL once per process, and each mutant's process
    is forked from one that already built them: without this, a mutant in a function that builds
    such a query (the escrow lock, say) would never reach the SQL its tests run."""
    global _compiled_found
    compiled = sys.modules.get("core.compiled")
    if compiled is None:
        return
    loaded, queries = _compiled_found
    if loaded != len(sys.modules):
        queries = [
            value
            for name, module in list(sys.modules.items())
            if name.split(".")[0] in ("escrows", "accounts", "webhooks") and module is not None
            for value in list(vars(module).values())
            if isinstance(value, compiled.CompiledQuery)
        ]
        _compiled_found = (len(sys.modules), queries)
    for query in queries:
        query._by_alias.clear()


def _only() -> list[str]:
    """MUTATION_ONLY=escrows/money.py,escrows/ledger.py: mutate just these this time."""
    return [p.strip() for p in os.environ.get("MUTATION_ONLY", "").split(",") if p.strip()]


def _retry_open_verdicts() -> int:
    """Forget every verdict but `killed`, so this run tests those mutants again."""
    import fnmatch

    reset = 0
    for meta_path in MUTANTS.rglob("*.py.meta"):
        module = str(meta_path.relative_to(MUTANTS)).removesuffix(".meta")
        if _only() and not any(fnmatch.fnmatch(module, p) for p in _only()):
            continue
        meta = json.loads(meta_path.read_text())
        codes = meta["exit_code_by_key"]
        for key, code in codes.items():
            if code is not None and code not in KILLED_CODES:
                codes[key] = None
                reset += 1
        meta_path.write_text(json.dumps(meta, indent=4))
    return reset


def _sync_copy() -> None:
    """mutmut copies a source file that is not mutated only when mutants/ lacks it: take away
    the copies of deleted files and refresh the changed ones, so the copy runs today's code."""
    import filecmp
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    mutated = set(config["only_mutate"])
    # The tests and the other copied folders too: a moved or deleted test file left behind in
    # mutants/tests would still be collected (and fail) there.
    copied = [*config["source_paths"], "tests", *config.get("also_copy", [])]
    for source_path in copied:
        copy_root = MUTANTS / source_path
        if not copy_root.exists():
            continue
        for copy in sorted(copy_root.rglob("*"), reverse=True):
            relative = copy.relative_to(MUTANTS)
            if "__pycache__" in relative.parts or copy.suffix in (".meta", ".spans"):
                continue
            source = ROOT / relative
            if any(fnmatch.fnmatch(str(relative), pattern) for pattern in mutated):
                continue  # mutmut's own mutated copy
            if not source.exists():
                shutil.rmtree(copy) if copy.is_dir() else copy.unlink()
            elif copy.is_file() and not filecmp.cmp(source, copy, shallow=False):
                shutil.copy2(source, copy)
        if source_path == "tests":
            # New test files: mutmut copies the tests only into a fresh mutants/.
            for source in (ROOT / "tests").rglob("*.py"):
                copy = MUTANTS / source.relative_to(ROOT)
                if "__pycache__" not in source.parts and not copy.exists():
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, copy)


def _forget_stats_of_other_modules() -> None:
    """mutmut learns which tests call which function in one pass and then only adds new tests.
    A module it has never seen (say the services split into several) would get no tests at all,
    so then the pass runs again from the start."""
    stats = MUTANTS / "mutmut-stats.json"
    if not stats.exists():
        return
    seen = {key.split(".x")[0] for key in json.loads(stats.read_text())["tests_by_mangled_function_name"]}
    import fnmatch

    modules = [m for m in _configured_modules() if (ROOT / m).exists()]
    if _only():
        modules = [m for m in modules if any(fnmatch.fnmatch(m, p) for p in _only())]
    wanted = {m.removesuffix(".py").replace("/", ".") for m in modules}
    unseen = {m for m in wanted - seen if not m.endswith("__init__")}
    if unseen:
        print(f"New modules to mutate ({', '.join(sorted(unseen))}): learning the tests again", flush=True)
        stats.unlink()


def run(args: list[str]) -> int:
    os.chdir(ROOT)
    _sync_copy()
    _forget_stats_of_other_modules()
    # SQLite in memory unless asked otherwise: the mutants run in parallel, each in its own
    # database, and a PostgreSQL run is several times slower.
    # The run's private folder, in memory where the system offers it, removed when the run ends:
    # the template database and the tests that killed each function's mutants so far.
    memory = "/dev/shm"  # noqa: S108  # only as the parent of the private folder below
    folder = tempfile.mkdtemp(prefix="escrow-mutation-", dir=memory if Path(memory).is_dir() else None)
    os.environ["MUTATION_RUN_DIR"] = folder
    if "MUTATION_DATABASE_URL" in os.environ:
        os.environ["DATABASE_URL"] = os.environ["MUTATION_DATABASE_URL"]
    else:
        os.environ.pop("DATABASE_URL", None)
        # Each mutant's pytest would build its SQLite test database from the models afresh, most
        # of its time: the first builds this template and the rest copy it (tests/conftest.py).
        os.environ["MUTATION_TEMPLATE_DB"] = str(Path(folder) / "template.sqlite3")
    os.environ.setdefault("ESCROW_TEST_MODE", "1")
    if not args:
        print(f"Retrying {_retry_open_verdicts()} mutants that were not killed last time", flush=True)
    _patch_mutmut()
    from mutmut.__main__ import cli

    if _only():
        from mutmut.configuration import config

        config().only_mutate = _only()

    jobs = os.environ.get("MUTATION_JOBS") or str(os.cpu_count() or 2)
    started = time.time()
    try:
        cli.main(args=["run", "--max-children", jobs, *args], prog_name="mutmut", standalone_mode=False)
    except SystemExit as stop:
        if stop.code:
            return int(stop.code) if isinstance(stop.code, int) else 1
    finally:
        # The template, and the copies of mutants stopped before they could remove their own.
        shutil.rmtree(folder, ignore_errors=True)
    # Every run's time is kept (mutants/ holds the results, so `rm -rf mutants` starts over):
    # the report adds them up, since results built over several runs took all of them.
    runs = _runs()
    runs.append(
        {
            "finished": datetime.now().isoformat(timespec="minutes"),
            "seconds": round(time.time() - started),
            "jobs": int(jobs),
            "cpus": os.cpu_count(),
            "only": args,
        }
    )
    RUN_RECORD.write_text(json.dumps(runs, indent=1))
    return 0


# -- the report -------------------------------------------------------------------------------


@dataclass
class Mutant:
    name: str  # escrows.money.x_to_minor__mutmut_12
    module: str  # escrows/money.py
    function: str  # x_to_minor
    status: str
    function_hash: str


def _runs() -> list[dict]:
    if not RUN_RECORD.exists():
        return []
    runs = json.loads(RUN_RECORD.read_text())
    return runs if isinstance(runs, list) else [runs]


def _read_meta(path: Path) -> dict:
    """A results file, read while a run may be rewriting it."""
    for _ in range(50):
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            time.sleep(0.1)
    return json.loads(path.read_text())


def _configured_modules() -> list[str]:
    """The source files `only_mutate` names (its entries may be globs), in its order."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    found: list[str] = []
    for pattern in config["only_mutate"]:
        # The results of a file that moved away since the last run are still shown.
        paths = {*ROOT.glob(pattern), *(ROOT / p.relative_to(MUTANTS) for p in MUTANTS.glob(pattern))}
        for path in sorted(paths):
            module = str(path.relative_to(ROOT))
            if module.endswith(".py") and module not in found:
                found.append(module)
    return found


def load_mutants() -> list[Mutant]:
    mutants = []
    for module in _configured_modules():
        meta_path = MUTANTS / (module + ".meta")
        if not meta_path.exists():
            continue
        meta = _read_meta(meta_path)
        hashes = meta.get("hash_by_function_name", {})
        for name, code in meta["exit_code_by_key"].items():
            function = name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
            mutants.append(Mutant(name, module, function, _status(code), hashes.get(function, "")))
    return mutants


@dataclass
class Equivalent:
    name: str
    function_hash: str
    reason: str


def _local(name: str) -> str:
    """A mutant's name without its module (x_to_minor__mutmut_12), so that an entry still holds
    when its function moves to another module unchanged."""
    return name.rsplit(".", 1)[1]


def load_equivalents() -> dict[str, Equivalent]:
    """docs/mutation-equivalent.txt: `<mutant> <hash of its function> <reason>` per line. The hash
    makes an entry lapse when its function changes (mutmut renumbers the mutants then); a
    function moved to another module unchanged keeps its entries."""
    found: dict[str, Equivalent] = {}
    if not EQUIVALENT_FILE.exists():
        return found
    for line in EQUIVALENT_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, function_hash, reason = line.split(maxsplit=2)
        found[f"{_local(name)} {function_hash}"] = Equivalent(name, function_hash, reason)
    return found


def _function_sources(mutant: Mutant) -> tuple[str, str] | None:
    from mutmut.mutation.data import MutantLineSpans

    os.chdir(ROOT)
    spans = MutantLineSpans.load(mutant.module)
    if spans is None:
        return None
    mutant_function = mutant.name.rsplit(".", 1)[1]
    try:
        original, mutated = spans.read_function_sources([mutant.function + "__mutmut_orig", mutant_function])
    except (KeyError, ValueError):
        return None
    return original, mutated.replace(mutant_function, mutant.function + "__mutmut_orig", 1)


def change_of(mutant: Mutant) -> str:
    """What the mutant changed, in one line: the differing part of each changed line."""
    sources = _function_sources(mutant)
    if sources is None:
        return "?"
    removed, added = [], []
    for line in difflib.ndiff(sources[0].splitlines(), sources[1].splitlines()):
        if line.startswith("- "):
            removed.append(line[2:].strip())
        elif line.startswith("+ "):
            added.append(line[2:].strip())
    if len(removed) == len(added) == 1:
        before, after = removed[0], added[0]
        start = 0
        while start < min(len(before), len(after)) and before[start] == after[start]:
            start += 1
        end = 0
        while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
            end += 1
        start = max(0, start - 25)
        before, after = before[start : len(before) - end + 25], after[start : len(after) - end + 25]
        return f"{before[:100]}  ->  {after[:100] or '(removed)'}"
    return f"{' / '.join(removed)[:100]}  ->  {' / '.join(added)[:100] or '(removed)'}"


def _line_of(mutant: Mutant) -> int | None:
    """The line in the source file of the mutated statement."""
    sources = _function_sources(mutant)
    if sources is None:
        return None
    original = sources[0].splitlines()
    changed = next(
        (i for i, (a, b) in enumerate(zip(original, sources[1].splitlines(), strict=False)) if a != b), 0
    )
    name = mutant.function.rsplit("ǁ", 1)[-1].removeprefix("x_")
    if not (ROOT / mutant.module).exists():
        return None
    source = (ROOT / mutant.module).read_text().splitlines()
    pattern = re.compile(rf"^\s*(async\s+)?def {re.escape(name)}\(")
    starts = [i for i, line in enumerate(source) if pattern.match(line)]
    return starts[0] + 1 + changed if starts else None


def report(markdown: bool) -> int:
    os.chdir(ROOT)
    mutants = load_mutants()
    if not mutants:
        print("No mutation results yet: run `make mutation`.")
        return 1
    equivalents = load_equivalents()
    present = {f"{_local(m.name)} {m.function_hash}" for m in mutants}
    stale = [e.name for key, e in equivalents.items() if key not in present]
    rows = []
    totals: Counter[str] = Counter()
    survivors: list[Mutant] = []
    for module in _configured_modules():
        of_module = [m for m in mutants if m.module == module]
        counts: Counter[str] = Counter()
        for mutant in of_module:
            listed = f"{_local(mutant.name)} {mutant.function_hash}" in equivalents
            if listed and mutant.status == "killed":
                stale.append(mutant.name)  # listed, yet a test kills it: the entry is wrong
            elif listed:
                counts["equivalent"] += 1
                continue
            counts[mutant.status] += 1
            if mutant.status not in ("killed", "not run"):
                survivors.append(mutant)
        counts["total"] = len(of_module)
        if not of_module:
            continue  # not mutated yet: `make mutation` generates its mutants
        totals.update(counts)
        rows.append((module if (ROOT / module).exists() else f"{module} (since moved)", counts))
    rows.append(("all", totals))

    columns = ["total", "killed", "survived", "timeout", "no tests", "not run", "equivalent"]
    header = ["module", *columns, "score"]
    lines = []
    for module, counts in rows:
        scored = counts["total"] - counts["equivalent"]
        score = f"{100 * counts['killed'] / scored:.1f}%" if scored else "-"
        lines.append([module, *(str(counts[c]) for c in columns), score])
    record = _runs()

    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
        for row in [header, *lines]:
            print(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
            )
    print()
    print(
        "score = killed / (total - equivalent); equivalent mutants are listed in docs/mutation-equivalent.txt"
    )
    if record:
        seconds, last = sum(r["seconds"] for r in record), record[-1]
        print(
            f"time: {seconds / 60:.0f} min over {len(record)} run(s) since mutants/ was made, the last "
            f"finished {last['finished']} with {last['jobs']} workers on {last['cpus']} CPUs"
        )
    if totals["not run"]:
        print(f"{totals['not run']} mutants not run yet (an interrupted run): `make mutation` resumes.")
    if survivors:
        print()
        print(f"Not killed ({len(survivors)}): `tools/mutation.py show NAME` shows one")
        for mutant in survivors:
            at = _line_of(mutant)
            print(f"  {mutant.status:9} {mutant.name}  ({mutant.module}:{at})")
            print(f"            {change_of(mutant)}")
    if stale:
        print()
        print("Equivalent entries that no longer match (function changed, or a test kills it):")
        for name in stale:
            print(f"  {name}")
    return 0


def show(name: str) -> int:
    os.chdir(ROOT)
    from mutmut.__main__ import cli

    cli.main(args=["show", name], prog_name="mutmut", standalone_mode=False)
    return 0


def equivalent(name: str, reason: str) -> int:
    mutant = next((m for m in load_mutants() if m.name == name), None)
    if mutant is None:
        print(f"No mutant {name}")
        return 1
    entries = load_equivalents()
    entry = Equivalent(name, mutant.function_hash, " ".join(reason.split()))
    entries[f"{_local(name)} {mutant.function_hash}"] = entry
    head = [line for line in EQUIVALENT_FILE.read_text().splitlines() if line.startswith("#")]
    body = [f"{e.name} {e.function_hash} {e.reason}" for e in sorted(entries.values(), key=lambda e: e.name)]
    EQUIVALENT_FILE.write_text("\n".join(head + body) + "\n")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "report", "show", "equivalent"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return run(rest)
    if command == "report":
        return report(markdown="--markdown" in rest)
    if command == "show":
        return show(rest[0])
    return equivalent(rest[0], rest[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
