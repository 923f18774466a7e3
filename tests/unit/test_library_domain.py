"""Pure rules of projects, models and unique names (decide/evolve, no I/O)."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, Invalid, NotFound
from domain.library import models as m
from domain.library import projects as p
from domain.library.values import clean_file_path, name_key

pytestmark = pytest.mark.unit
SHA = "a" * 64


def project_with(*members: tuple[str, str]) -> p.Project:
    state = p.PROJECTS.fold(p.decide(p.Project(), p.CreateProject(project_id="p1", name="组", owner="alice")))
    for user, role in members:
        state = p.PROJECTS.fold(p.decide(state, p.SetMember(user_id=user, role=role)), state)
    return state


def test_a_project_keeps_at_least_one_owner():
    state = project_with(("bob", "editor"))
    with pytest.raises(Conflict):
        p.decide(state, p.RemoveMember(user_id="alice"))
    with pytest.raises(Conflict):
        p.decide(state, p.SetMember(user_id="alice", role="viewer"))
    state = p.PROJECTS.fold(p.decide(state, p.SetMember(user_id="bob", role="owner")), state)
    assert p.decide(state, p.RemoveMember(user_id="alice"))  # now allowed


def test_unknown_roles_and_members_name_the_field():
    state = project_with()
    with pytest.raises(Invalid) as e:
        p.decide(state, p.SetMember(user_id="bob", role="admin"))
    assert e.value.field == "role"
    with pytest.raises(NotFound) as e2:
        p.decide(state, p.RemoveMember(user_id="nobody"))
    assert e2.value.field == "user_id"


def registered() -> m.Model:
    cmd = m.RegisterModel(model_id="m1", project_id="p1", name=" 模型 ", family="BERT", tags=["a", "a", "b"])
    return m.MODELS.fold(m.decide(m.Model(), cmd))


def test_register_cleans_name_family_and_tags():
    state = registered()
    assert (state.name, state.family, state.tags) == ("模型", "bert", ("a", "b"))


def start(state: m.Model, upload_id: str, path: str = "w.bin", size: int = 10) -> m.Model:
    cmd = m.StartUpload(upload_id=upload_id, path=path, size=size, sha256=SHA, part_size=5 << 20)
    return m.MODELS.fold(m.decide(state, cmd), state)


def test_a_file_exists_only_after_a_verified_upload_matching_the_declaration():
    state = start(registered(), "u1")
    assert state.files == {} and "u1" in state.uploads
    with pytest.raises(Invalid) as e:
        m.decide(state, m.AddFile(upload_id="u1", blob=f"sha256/{SHA}", size=11, sha256=SHA))
    assert e.value.field == "size"
    with pytest.raises(Invalid) as e:
        m.decide(state, m.AddFile(upload_id="u1", blob="sha256/" + "b" * 64, size=10, sha256="b" * 64))
    assert e.value.field == "sha256"
    state = m.MODELS.fold(m.decide(state, m.AddFile(upload_id="u1", blob=f"sha256/{SHA}", size=10, sha256=SHA)), state)
    assert state.files["w.bin"].size == 10 and state.uploads == {}


def test_replacing_a_file_releases_the_old_blob():
    state = start(registered(), "u1")
    state = m.MODELS.fold(m.decide(state, m.AddFile(upload_id="u1", blob=f"sha256/{SHA}", size=10, sha256=SHA)), state)
    state = m.MODELS.fold(
        m.decide(state, m.StartUpload(upload_id="u2", path="w.bin", size=10, sha256="c" * 64, part_size=5 << 20)),
        state,
    )
    events = m.decide(state, m.AddFile(upload_id="u2", blob="sha256/" + "c" * 64, size=10, sha256="c" * 64))
    assert [type(e).__name__ for e in events] == ["FileRemoved", "FileAdded"]
    assert events[0].blob == f"sha256/{SHA}"


def test_one_open_upload_per_path_and_deleted_models_refuse_everything():
    state = start(registered(), "u1")
    with pytest.raises(Conflict):
        start(state, "u2")
    state = m.MODELS.fold(m.decide(state, m.DeleteModel()), state)
    assert not state.exists and state.uploads == {}
    with pytest.raises(NotFound):
        m.decide(state, m.UpdateModel(description="x"))


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a\x00b", "C:\\x", "c:x", "a//b", "./a", "a/..", "a\\b", ""])
def test_file_paths_that_could_escape_are_refused(bad):
    with pytest.raises(Invalid) as e:
        clean_file_path(bad)
    assert e.value.field == "path"


def test_names_are_unique_up_to_case_width_and_spaces():
    assert name_key("ＢＥＲＴ  Base") == name_key("bert base")
    holder = m.MODEL_NAMES.fold(m.MODEL_NAMES.decide(None, m.ClaimName(model_id="m1")))
    with pytest.raises(Conflict) as e:
        m.MODEL_NAMES.decide(holder, m.ClaimName(model_id="m2"))
    assert e.value.field == "name"
    assert m.MODEL_NAMES.decide(holder, m.ClaimName(model_id="m2", replaces="m1"))  # m1 found gone
    with pytest.raises(Conflict):  # the claim it was decided against is not the holder any more
        m.MODEL_NAMES.decide(holder, m.ClaimName(model_id="m2", replaces="m0"))
    released = m.MODEL_NAMES.fold(m.MODEL_NAMES.decide(holder, m.ReleaseName(model_id="m1")), holder)
    assert released is None


@pytest.mark.parametrize("bad", ["u" * 129, "a/b", "a b", "", "-x", "a\nb", "用户"])
def test_member_ids_are_checked_before_they_reach_a_view_key(bad):
    with pytest.raises(Invalid) as e:
        p.decide(project_with(), p.SetMember(user_id=bad, role="viewer"))
    assert e.value.field == "user_id"
