"""Does an environment value look like a credential? Shared by plan's warning and check's rule."""

from __future__ import annotations

import re

__all__ = ["looks_like_credential"]

#: variable names that hold secrets by convention
_SECRET_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)($|_)",
    re.IGNORECASE,
)
#: values that carry a secret whatever the variable is called
_SECRET_VALUE = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "holds a URL with a password"),
    (re.compile(r"(^|\s)password=\S+", re.IGNORECASE), "holds a connection string with a password"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "holds an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "holds a private key"),
)


def looks_like_credential(name: str, value: str) -> str | None:
    """Why ``name=value`` looks like a credential, or None.

    A name like ``*_PASSWORD`` with an empty value or a ``$(VAR)`` reference is not one.
    """
    for pattern, why in _SECRET_VALUE:
        if pattern.search(value):
            return why
    if _SECRET_NAME.search(name) and value.strip() and not re.fullmatch(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", value):
        return "is named like a credential and has a literal value"
    return None
