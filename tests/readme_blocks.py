"""The README's fenced blocks, for the tests that run them as written
(tests/test_readme.py, tests/aws/test_aws_readme.py)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

#: placeholders the README uses for the reader's own files, and what stands in for them
PLACEHOLDERS = {"path/to/manifests/": str(REPO / "tests" / "data" / "corpus" / "upstream")}
#: lines that are not edgewise's to test here, and why
NOT_RUN_HERE = {
    "make demo": "sets up the environment this suite runs in; CI runs the README's test command",
    "make test": "the command running this suite",
    ". .venv/bin/activate": "the environment this suite runs in",
}
#: the first word of each AWS-block command: that block runs in tests/aws/test_aws_readme.py
AWS_COMMANDS = {"discover", "apply"}


def fenced_blocks(lang: str) -> list[tuple[int, str]]:
    """(number of its first line, text) of every ``` block of the README whose info
    string is ``lang``."""
    out: list[tuple[int, str]] = []
    info: str | None = None  # the open block's info string; None outside a block
    body: list[str] = []
    start = 0
    for no, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        fence = re.match(r"^```(\S*)\s*$", line)
        if fence and info is None:
            info, body, start = fence.group(1), [], no + 1
        elif fence:
            if info == lang:
                out.append((start, "\n".join(body)))
            info = None
        elif info is not None:
            body.append(line)
    return out


def shell_lines(block: tuple[int, str]) -> list[tuple[int, list[str]]]:
    start, text = block
    lines = []
    for i, line in enumerate(text.splitlines()):
        argv = shlex.split(line, comments=True)
        if argv:
            lines.append((start + i, [PLACEHOLDERS.get(a, a) for a in argv]))
    return lines


def is_aws_block(block: tuple[int, str]) -> bool:
    return any(argv[:2] in (["edgewise", c] for c in AWS_COMMANDS) for _, argv in shell_lines(block))
