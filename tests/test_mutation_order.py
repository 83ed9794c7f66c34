"""The order in which `make mutation` runs a mutant's tests (tools/mutation.py).

A mutant stops at its first failing test, so the order decides how long a killed mutant takes,
never whether it is killed: every stage together must hold each of the mutant's tests once.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("mutmut")

TOOL = Path(__file__).resolve().parent.parent / "tools" / "mutation.py"


@pytest.fixture
def tool(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("mutation_tool", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutation_tool", module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    mutmut_state = importlib.import_module("mutmut.state")

    monkeypatch.setattr(mutmut_state, "_state", None)
    durations = mutmut_state.state().duration_by_test
    durations.update(
        {
            "tests/services/test_funding.py::test_slow": 2.0,
            "tests/services/test_funding.py::test_fast": 0.1,
            "tests/services/test_refunds.py::test_refund": 0.5,
            "tests/api/test_pay.py::test_pay": 0.2,
            "tests/api/test_pay.py::test_pay_twice": 0.3,
        }
    )
    monkeypatch.setenv("MUTATION_RUN_DIR", str(tmp_path))
    return module


FUNDING = "escrows.services.funding.x_escrow_fund__mutmut_7"
TESTS = [
    "tests/api/test_pay.py::test_pay",
    "tests/services/test_refunds.py::test_refund",
    "tests/services/test_funding.py::test_slow",
    "tests/api/test_pay.py::test_pay_twice",
    "tests/services/test_funding.py::test_fast",
]


def test_own_module_then_its_folder_then_the_rest_fastest_first(tool):
    assert tool._likely_killers_first(FUNDING, TESTS) == [
        [],
        ["tests/services/test_funding.py::test_fast", "tests/services/test_funding.py::test_slow"],
        ["tests/services/test_refunds.py::test_refund"],
        ["tests/api/test_pay.py::test_pay", "tests/api/test_pay.py::test_pay_twice"],
    ]


def test_the_tests_that_killed_the_same_functions_mutants_run_first_latest_first(tool):
    fund = "escrows.services.funding.x_escrow_fund__mutmut_"
    tool._record_killer(f"{fund}1", "tests/api/test_pay.py::test_pay_twice")
    tool._record_killer(f"{fund}2", "tests/services/test_funding.py::test_slow")
    tool._record_killer(f"{fund}3", "tests/api/test_pay.py::test_pay_twice")
    # Another function's killer, and a killer this mutant is not covered by, are not tried.
    topup = "escrows.services.funding.x_wallet_topup__mutmut_1"
    tool._record_killer(topup, "tests/api/test_pay.py::test_pay")
    tool._record_killer(f"{fund}4", "tests/other/test_x.py::test_gone")

    stages = tool._likely_killers_first(FUNDING, TESTS)

    assert stages[0] == ["tests/api/test_pay.py::test_pay_twice", "tests/services/test_funding.py::test_slow"]
    assert stages[1:] == [
        ["tests/services/test_funding.py::test_fast"],
        ["tests/services/test_refunds.py::test_refund"],
        ["tests/api/test_pay.py::test_pay"],
    ]
    assert sorted(test for stage in stages for test in stage) == sorted(TESTS)


def test_at_most_three_known_killers_are_tried_first(tool):
    for n, test in enumerate(TESTS):
        tool._record_killer(f"escrows.services.funding.x_escrow_fund__mutmut_{n}", test)

    stages = tool._likely_killers_first(FUNDING, TESTS)

    assert stages[0] == [TESTS[4], TESTS[3], TESTS[2]]
    assert sorted(test for stage in stages for test in stage) == sorted(TESTS)


def test_without_a_run_folder_nothing_is_recorded_or_tried_first(tool, monkeypatch, tmp_path):
    monkeypatch.delenv("MUTATION_RUN_DIR")
    tool._record_killer(FUNDING, TESTS[0])

    assert tool._likely_killers_first(FUNDING, TESTS)[0] == []
    assert list(tmp_path.iterdir()) == []
