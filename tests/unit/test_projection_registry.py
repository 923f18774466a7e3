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
