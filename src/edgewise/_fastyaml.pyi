from collections.abc import Callable
from typing import Any

def load(
    text: str, resolve: Callable[[str], Any], resolve_first: str, max_depth: int
) -> list[tuple[int, int, Any, dict[tuple[str | int, ...], tuple[int, int]], bool]] | None: ...
