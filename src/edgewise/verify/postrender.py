"""Helm post-renderer for the lab: drop admission webhook configurations.

``helm --post-renderer`` pipes the rendered manifests through this program (``python -m
edgewise.verify.postrender OUT``); it writes them back without any
``MutatingWebhookConfiguration``/``ValidatingWebhookConfiguration`` and appends the names
it dropped to the file ``OUT``. kwok runs no container, so no webhook could be served;
registered, each would make the API server call a Service address nothing answers on
(and refuse what it matches, with ``failurePolicy: Fail``). See :mod:`edgewise.verify.addons`.
"""

from __future__ import annotations

import sys

import yaml

WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def main(argv: list[str]) -> int:
    docs = [d for d in yaml.safe_load_all(sys.stdin.read()) if isinstance(d, dict)]
    kept, dropped = [], []
    for d in docs:
        if d.get("kind") in WEBHOOK_KINDS:
            kind = str(d["kind"]).replace("WebhookConfiguration", "")
            dropped.append(f"{kind}/{(d.get('metadata') or {}).get('name')}")
        else:
            kept.append(d)
    if argv:
        with open(argv[0], "a", encoding="utf-8") as fh:
            fh.writelines(f"{n}\n" for n in dropped)
    sys.stdout.write(yaml.safe_dump_all(kept, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
