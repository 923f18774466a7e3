"""The parameter estimate of ``domain.limits`` against the models transformers really builds
(tiny templates: a classifier head adds only a few hundred parameters)."""

from __future__ import annotations

import pytest

from domain.configs import TEMPLATES, template_values
from domain.limits import count_params

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(n for n in TEMPLATES if n.endswith("-tiny")))
def test_estimate_is_within_five_percent_of_the_built_model(name):
    from jobs.modeling import build_model

    values = template_values(name)
    built = sum(p.numel() for p in build_model(values, 2, pad_token_id=0).parameters())
    estimated = count_params(values)[0]
    assert abs(estimated - built) / built < 0.05, (name, estimated, built)
