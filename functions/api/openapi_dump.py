"""Write the API's OpenAPI document to a file (or stdout): ``python -m functions.api.openapi_dump PATH``.

The browser UI's client types are generated from it at build time (``make`` runs this, then
``openapi-typescript``), so the UI type-checks against the routes as they are, never a stale copy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from functions.api.app import openapi_json

    text = json.dumps(json.loads(openapi_json()), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if not argv or argv[0] == "-":
        sys.stdout.write(text)
        return 0
    target = Path(argv[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text() != text:  # unchanged: keep the mtime (make's stamps)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
