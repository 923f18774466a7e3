"""Shadow comparison counts are events on the deployment (they survive the process), and a
runtime that is not served is refused when a version's parameters are set."""

from __future__ import annotations

import pytest

from domain.errors import Invalid
from domain.releases import deployment as dep
from domain.releases.params import ServingParams, validate_params
from tests.unit.test_releases_domain import run, started

pytestmark = pytest.mark.unit


def count(slot: str, version_id: str, copied: int, agreed: int, errors: int = 0) -> dep.CountShadow:
    return dep.CountShadow(slot=slot, version_id=version_id, copied=copied, agreed=agreed, errors=errors)


def test_shadow_counts_add_up_in_the_state_and_end_with_their_test() -> None:
    # Given a shadow test of v2 on the running deployment
    state = run(started(), dep.StartShadow(version_id="m-v2", percent=50))
    slot = state.shadow["slot"]  # type: ignore[index]
    assert "compared" not in state.shadow  # type: ignore[operator]
    # When two batches of counts are recorded, Then the state holds their sum
    state = run(state, count(slot, "m-v2", 64, 60), count(slot, "m-v2", 3, 1, errors=1))
    assert state.shadow["compared"] == {"copied": 67, "agreed": 61, "errors": 1}  # type: ignore[index]
    # counts for another test (slot or version) or nothing to count: no event
    assert dep.decide(state, count(slot, "m-v3", 5, 5)) == []
    assert dep.decide(state, count("nope", "m-v2", 5, 5)) == []
    assert dep.decide(state, count(slot, "m-v2", 0, 0)) == []
    with pytest.raises(Invalid) as e:
        dep.decide(state, count(slot, "m-v2", 2, 3))
    assert e.value.field == "copied"
    # after the test stops, late counts are dropped; a new test starts from zero
    state = run(state, dep.StopShadow(reason="done"))
    assert state.shadow is None and dep.decide(state, count(slot, "m-v2", 5, 5)) == []
    state = run(state, dep.StartShadow(version_id="m-v2", percent=10), count(slot, "m-v2", 1, 1))
    assert state.shadow["compared"] == {"copied": 1, "agreed": 1, "errors": 0}  # type: ignore[index]


def test_torch_is_refused_when_set_naming_the_field_but_old_params_still_read() -> None:
    with pytest.raises(Invalid) as e:
        validate_params({"runtime": "torch", "threads": 2})
    assert e.value.field == "params.runtime" and "not served" in str(e.value) and "onnxruntime-int8" in str(e.value)
    assert validate_params({"runtime": "onnxruntime-fp32"}).runtime == "onnxruntime-fp32"
    # a version recorded with torch before this rule: its other params can still change
    assert validate_params({"threads": 2}, ServingParams(runtime="torch")).threads == 2
