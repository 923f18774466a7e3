"""The projection registry: one projection per view name, idempotent registration, lookups that
name what is missing, and ``select`` keeping the caller's order."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from runtime import projections

pytestmark = pytest.mark.unit


@dataclass(eq=False)
class P:
    view: object


@pytest.fixture
def views():
    made: list[str] = []
    yield made
    for v in made:
        projections.unregister(v)


def test_register_is_idempotent_and_refuses_a_second_object_for_a_view(views) -> None:
    p = P("h9-test-view")
    views.append("h9-test-view")
    assert projections.register(p) is p and projections.register(p) is p
    assert projections.get("h9-test-view") is p
    with pytest.raises(ValueError, match="registered twice"):
        projections.register(P("h9-test-view"))
    assert projections.get("h9-test-view") is p
    assert p in projections.all() and [x.view for x in projections.all()] == sorted(x.view for x in projections.all())


@pytest.mark.parametrize("bad", ["", None, 3])
def test_a_projection_needs_a_view_name(bad) -> None:
    with pytest.raises(ValueError, match="non-empty 'view'"):
        projections.register(P(bad))


def test_get_and_unregister(views) -> None:
    with pytest.raises(KeyError, match="no projection registered for view 'h9-nothing'"):
        projections.get("h9-nothing")
    projections.register(P("h9-gone"))
    projections.unregister("h9-gone")
    projections.unregister("h9-gone")  # no-op
    with pytest.raises(KeyError):
        projections.get("h9-gone")


def test_select_keeps_the_asked_order_and_names_unknown_views() -> None:
    a, b, c = P("a"), P("b"), P("c")
    assert projections.select([a, b, c], None) == [a, b, c]
    assert projections.select([a, b, c], ["c", "a"]) == [c, a]
    assert projections.select([a, b, c], ()) == []
    with pytest.raises(KeyError, match="unknown view\\(s\\): x, y"):
        projections.select([a, b], ["a", "x", "y"])


@dataclass
class Same:
    view: str


def test_an_equal_but_other_object_for_a_view_is_refused_too(views) -> None:
    first = projections.register(Same("h9-equal"))
    views.append("h9-equal")
    with pytest.raises(ValueError, match="registered twice"):
        projections.register(Same("h9-equal"))  # == the first, but another object
    assert projections.get("h9-equal") is first


def test_all_imports_the_view_modules_itself() -> None:
    # a fresh interpreter that imported nothing else: all() must load every module in MODULES
    import subprocess
    import sys

    code = ("import sys; from runtime import projections as p; views = [x.view for x in p.all()]; "
            "print(all(m in sys.modules for m in p.MODULES), len(views), 'models' in views)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True" and int(out[1]) >= len(projections.MODULES) and out[2] == "True", out
