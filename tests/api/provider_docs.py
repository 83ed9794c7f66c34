"""Reading the providers' documented pages (../shared/seeds beside the repository) so tests can
run their code examples unchanged but for the base URL and the key. Some pages lost their
indentation in conversion; `reindent` restores Python's block structure from the code's own
cues."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def docs_dir() -> Path | None:
    candidates = [
        os.environ.get("SEEDS_DIR", ""),
        ROOT.parent / "shared" / "seeds",
        ROOT.parents[1] / "shared" / "seeds",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def page(title: str, *, markdown: bool = False) -> str:
    """The documented page whose first line is `title` (as plain text, or as a Markdown heading
    when `markdown`): the same page can be there in both forms."""
    folder = docs_dir()
    assert folder is not None, "the providers' documented pages are absent"
    heading = f"# {title}" if markdown else title
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text()
        if text.splitlines()[:1] == [heading]:
            return text
    raise LookupError(f"no documented page titled {heading!r} in {folder}")


def fenced_python(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def flat_section(text: str, start: str, stop: str | None = None) -> str:
    """The lines after the line `start` up to the line `stop` (or the end)."""
    lines = text.splitlines()
    begin = lines.index(start) + 1
    end = lines.index(stop, begin) if stop else len(lines)
    return "\n".join(lines[begin:end])


def reindent(code: str) -> str:
    """Re-indent flattened Python: a line ending in ':' opens a block, else/elif/except close
    one, `return` ends its block, a top-level comment returns to column 0, and an `else:` block
    holds one statement (as in every documented example). Lines inside open brackets keep going (Python
    ignores their indentation)."""
    out: list[str] = []
    level = depth = 0
    single_statement_block = False
    for raw in code.splitlines():
        line = raw.strip()
        if not line:
            continue
        if depth == 0:
            if line.startswith("#"):
                level = 0
            elif re.match(r"(else|elif|except|finally)\b", line):
                level = max(level - 1, 0)
        out.append("    " * (level + (1 if depth else 0)) + line)
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
        if depth == 0:
            if line.endswith(":") and not line.startswith("#"):
                level += 1
                single_statement_block = line.startswith("else")
            elif line.startswith("return") or single_statement_block:
                level = max(level - 1, 0)
                single_statement_block = False
    return "\n".join(out) + "\n"


def curl_commands(text: str) -> list[str]:
    """Each `curl ...` example with its continuation lines, ready for bash."""
    commands, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith("curl "):
            block = [lines[i]]
            while block[-1].rstrip().endswith("\\") or _open_quote(block):
                i += 1
                block.append(lines[i])
            commands.append("\n".join(block))
        i += 1
    return commands


def _open_quote(block: list[str]) -> bool:
    return "\n".join(block).count("'") % 2 == 1
