"""The suite's Hypothesis profile (tests/conftest.py): seeded and stateless unless asked."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit
SEEN: list[list[int]] = []


def test_the_default_profile_is_derandomized_without_a_database() -> None:
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        pytest.skip("another profile was asked for")
    assert settings.default.derandomize is True and settings.default.database is None


def test_two_runs_of_a_property_try_the_same_examples() -> None:
    @settings(max_examples=15)
    @given(st.lists(st.integers()))
    def prop(xs: list[int]) -> None:
        SEEN.append(xs)

    if not settings.default.derandomize:
        pytest.skip("the explore profile is random on purpose")
    prop()
    first = list(SEEN)
    SEEN.clear()
    prop()
    assert first == SEEN and len(first) > 1
