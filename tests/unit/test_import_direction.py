"""The dependency direction of DESIGN.md §2, checked on the source: ``domain`` <- ``runtime`` <-
``functions`` / ``tlm`` / ``infra``, and ``jobs`` imports ``domain`` only (besides itself, the
standard library and third-party packages).

Every ``import`` / ``from ... import`` in every module counts, wherever it stands (a lazy import
inside a function, or one under ``TYPE_CHECKING``, is still a dependency); relative imports are
resolved against the module's package. ``domain`` is held to more: no I/O or process modules
of the standard library and, of third-party packages, only what it is allowed to use (pydantic,
pyyaml's ``safe_load``): no boto3, torch, HTTP or file-system code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {  # top-level import name -> its source folder (relative to the repository root)
    "domain": "domain",
    "runtime": "layers/runtime/runtime",
    "functions": "functions",
    "tlm": "tlm",
    "infra": "infra",
    "jobs": "jobs",
}
FIRST_PARTY = {*PACKAGES, "bench", "tests"}
# what each package may import of the first-party ones (itself included)
MAY_IMPORT = {
    "domain": {"domain"},
    "runtime": {"domain", "runtime"},
    "functions": {"domain", "runtime", "functions"},
    "tlm": {"domain", "runtime", "functions", "tlm"},  # the local server runs the Lambda API in-process
    "infra": {"domain", "runtime", "infra"},  # constants (key names, workflow definitions) only
    "jobs": {"domain", "jobs"},
}
DOMAIN_THIRD_PARTY = {"pydantic", "pydantic_core", "annotated_types", "typing_extensions", "yaml"}
DOMAIN_STDLIB_BANNED = {
    "os", "pathlib", "shutil", "tempfile", "glob", "fileinput", "mmap", "sqlite3", "dbm", "shelve",
    "pickle", "marshal", "subprocess", "multiprocessing", "threading", "asyncio", "signal", "socket", "ssl",
    "select", "selectors", "http", "urllib.request", "ftplib", "smtplib", "xmlrpc", "wsgiref", "webbrowser",
}  # fmt: skip


def module_name(pkg: str, root: Path, path: Path) -> str:
    parts = [pkg, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in the file."""
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from domain import x``: x may itself be a module; the package is checked anyway
    return found


def violations(repo: Path = REPO) -> list[str]:
    bad: list[str] = []
    for pkg, folder in PACKAGES.items():
        root = repo / folder
        for path in sorted(root.rglob("*.py")):
            where = path.relative_to(repo)
            for line, name in imports_of(path, module_name(pkg, root, path)):
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    if top not in MAY_IMPORT[pkg]:
                        bad.append(f"{where}:{line}: {pkg} imports {name} (against the direction)")
                elif pkg == "domain":
                    if top in sys.stdlib_module_names:
                        if top in DOMAIN_STDLIB_BANNED or name in DOMAIN_STDLIB_BANNED:
                            bad.append(f"{where}:{line}: domain imports {name} (I/O; the domain stays pure)")
                    elif top not in DOMAIN_THIRD_PARTY:
                        bad.append(f"{where}:{line}: domain imports {name} (not a library the domain may use)")
    return bad


def test_no_import_goes_against_the_direction():
    assert violations() == []


def test_every_package_is_checked():
    for folder in PACKAGES.values():
        assert len(list((REPO / folder).rglob("*.py"))) > 1, folder


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("domain/bad.py", "from runtime.ports import EventStore\n", "domain imports runtime.ports"),
        ("domain/sub/bad.py", "def f():\n    import boto3\n", "domain imports boto3"),
        ("domain/bad.py", "from urllib.request import urlopen\n", "domain imports urllib.request"),
        ("domain/bad.py", "import pathlib\n", "domain imports pathlib"),
        ("layers/runtime/runtime/bad.py", "from functions.api import app\n", "runtime imports functions.api"),
        ("layers/runtime/runtime/bad.py", "import jobs.contract\n", "runtime imports jobs.contract"),
        ("jobs/bad.py", "from runtime.adapters import sqlite\n", "jobs imports runtime.adapters"),
        ("functions/bad.py", "from tlm import client\n", "functions imports tlm"),
        ("infra/bad.py", "from functions.steps import handler\n", "infra imports functions.steps"),
        ("domain/sub/bad.py", "from ..sub import ok\nfrom .. import events\nimport shutil\n", "domain imports shutil"),
    ],
)
def test_a_planted_violation_is_reported(tmp_path, path, source, expected):
    # Given a tree with one package file per package, and one bad import planted
    for folder in PACKAGES.values():
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("import json\nfrom domain import events\n")
    (tmp_path / "domain" / "__init__.py").write_text("import json\nimport pydantic\n")
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(source)
    # Then exactly that import is reported
    found = violations(tmp_path)
    assert len(found) == 1 and expected in found[0], found
