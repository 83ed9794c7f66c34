"""The measured figures of the reliability suite. Tests add what they actually ran and saw;
tests/conftest.py writes them to test-artifacts/reliability.json and prints them as a table, so the
summary is never typed by hand."""

import json
import os
from collections import defaultdict
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"

# section -> figure -> count. Figures whose name starts with "violations" must end at zero.
FIGURES: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def scale() -> float:
    """RELIABILITY_SCALE multiplies every repeat count (1 in CI; e.g. 10 for a nightly run)."""
    try:
        return max(float(os.environ.get("RELIABILITY_SCALE", "1")), 0.05)
    except ValueError:
        return 1.0


def scaled(n: int) -> int:
    return max(1, round(n * scale()))


def add(section: str, figure: str, n: int = 1) -> None:
    FIGURES[section][figure] += n


def violations_total() -> int:
    return sum(v for figs in FIGURES.values() for k, v in figs.items() if k.startswith("violations"))


def as_dict() -> dict[str, dict[str, int]]:
    return {section: dict(figs) for section, figs in sorted(FIGURES.items())}


def write(path: Path = ARTIFACT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"scale": scale(), "violations": violations_total(), "sections": as_dict()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def table(sections: dict[str, dict[str, int]]) -> list[str]:
    rows = [(section, figure, value) for section, figs in sections.items() for figure, value in figs.items()]
    if not rows:
        return ["(no reliability figures recorded)"]
    w1 = max(len("section"), *(len(r[0]) for r in rows))
    w2 = max(len("figure"), *(len(r[1]) for r in rows))
    w3 = max(len("value"), *(len(str(r[2])) for r in rows))
    line = f"+-{'-' * w1}-+-{'-' * w2}-+-{'-' * w3}-+"
    out = [line, f"| {'section':<{w1}} | {'figure':<{w2}} | {'value':>{w3}} |", line]
    previous = None
    for section, figure, value in rows:
        shown = section if section != previous else ""
        previous = section
        out.append(f"| {shown:<{w1}} | {figure:<{w2}} | {value:>{w3}} |")
    out.append(line)
    total = sum(v for _, f, v in rows if f.startswith("violations"))
    out.append(f"violations in total: {total}")
    return out


def main() -> int:
    """`make reliability` prints the table of the last run from the artifact."""
    if not ARTIFACT.exists():
        print(f"no figures: {ARTIFACT} is missing (did the reliability suite run?)")
        return 1
    payload = json.loads(ARTIFACT.read_text())
    print(f"Reliability figures (RELIABILITY_SCALE={payload['scale']}):")
    print("\n".join(table(payload["sections"])))
    return 1 if payload["violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
