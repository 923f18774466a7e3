"""Portable files, diff/apply and blame folds, architecture edits (pure domain)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.configs import ArchEdit, apply_edit, diff_values, portable, template_values
from domain.configs.diff import apply_changes
from domain.errors import Invalid

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("template", ["bert-base", "electra-tiny", "xlnet-small"])
def test_round_trip_is_exact(fmt, template):
    family = template.split("-")[0]
    doc = portable.PortableConfig(
        name="中文 名字", description="多行\n说明: yes", family=family, values=template_values(template)
    )
    text = portable.dumps(doc, fmt)
    back = portable.loads(text)
    assert back.values == doc.values and back.name == doc.name and back.description == doc.description
    assert list(back.values) == list(doc.values)  # key order kept
    assert portable.dumps(back, fmt) == text


def test_newer_schema_and_family_mismatch():
    doc = portable.PortableConfig(name="x", family="bert", values=template_values("bert-tiny")).document()
    with pytest.raises(Invalid) as e:
        portable.loads(portable.json.dumps({**doc, "schema_version": 2}))
    assert e.value.field == "schema_version"
    with pytest.raises(Invalid) as e:
        portable.loads(portable.json.dumps({**doc, "family": "albert"}))
    assert e.value.field == "family"
    with pytest.raises(Invalid) as e:
        portable.loads(portable.json.dumps({**doc, "format": "other"}))
    assert e.value.field == "format"


leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3))
tree = st.recursive(leaf, lambda c: st.dictionaries(st.sampled_from("abc"), c, max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("xyz"), tree, max_size=3),
    st.dictionaries(st.sampled_from("xyz"), tree, max_size=3),
)
def test_apply_changes_inverts_diff(a, b):
    assert apply_changes(a, diff_values(a, b)) == b


def test_diff_tells_int_from_float():
    assert [c.kind for c in diff_values({"a": 1}, {"a": 1.0})] == ["changed"]


def test_arch_edit_layers_activation_and_layer_map():
    parent = template_values("bert-tiny")
    parent["architecture"]["num_hidden_layers"] = 4
    r = apply_edit(parent, ArchEdit(num_layers=2, activation="relu"))
    assert (
        r.values["architecture"]["num_hidden_layers"] == 2
        and r.values["architecture"]["hidden_act"] == "relu"
    )
    assert r.layer_map == {"0": 0, "1": 1}
    r = apply_edit(parent, ArchEdit(keep_layers=[3, 1], num_layers=3))
    assert r.layer_map == {"0": 3, "1": 1, "2": None}


def test_arch_edit_family_mapping_and_errors():
    x = apply_edit(template_values("xlnet-tiny"), ArchEdit(hidden_size=96, num_heads=3, activation="relu"))
    assert (x.values["architecture"]["d_model"], x.values["architecture"]["n_head"]) == (96, 3)
    a = apply_edit(template_values("albert-tiny"), ArchEdit(num_layers=4, num_hidden_groups=2))
    assert a.layer_map == {} and a.values["architecture"]["num_hidden_groups"] == 2
    e = apply_edit(template_values("electra-tiny"), ArchEdit(num_layers=1))
    assert e.values["electra_generator"]["num_hidden_layers"] == 1
    b = apply_edit(template_values("bert-base"), ArchEdit(hidden_dropout=0.2))
    assert "source" not in b.values  # the child is no longer the cited preset
    with pytest.raises(Invalid) as err:
        apply_edit(template_values("xlnet-tiny"), ArchEdit(attention_dropout=0.2))
    assert err.value.field == "edit.attention_dropout"
    with pytest.raises(Invalid) as err:
        apply_edit(template_values("bert-tiny"), ArchEdit(hidden_size=100, num_heads=12))
    assert err.value.field == "architecture.hidden_size"
    with pytest.raises(Invalid) as err:
        apply_edit(template_values("bert-tiny"), ArchEdit(keep_layers=[5]))
    assert err.value.field == "edit.keep_layers"
    with pytest.raises(Invalid) as err:
        apply_edit(template_values("bert-tiny"), ArchEdit(num_layers=2))
    assert err.value.field == "edit"
