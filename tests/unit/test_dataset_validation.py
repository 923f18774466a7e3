"""Dataset files validated as streams, the dataset's validity, and the model aggregate's kind."""

from __future__ import annotations

import json

import pytest

from domain.errors import Conflict, Invalid
from domain.library import models as m
from domain.library.datasets import DataError, dataset_summary, file_report, iter_examples

pytestmark = pytest.mark.unit


def chunks(data: bytes, size: int = 3) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def jsonl(rows: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


def test_a_file_split_into_odd_chunks_reports_labels_and_counts():
    data = b"\xef\xbb\xbf" + jsonl([{"text": "很好", "label": "pos"}, {"text": "很差", "label": "neg"},
                                    {"text": "不错", "label": 1}])  # fmt: skip
    report = file_report("data/train.jsonl", chunks(data))
    assert report == {
        "format": "jsonl",
        "schema": {"text": "string", "label": "string|integer"},
        "labels": ["1", "neg", "pos"],
        "counts": {"1": 1, "neg": 1, "pos": 1},
        "rows": 3,
        "chars": 5,
    }
    csv_report = file_report("t.csv", chunks('text,label\n"多行\n文本",pos\n差,neg\n'.encode()))
    assert csv_report["counts"] == {"neg": 1, "pos": 1}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (b'{"text": "ok", "label": "pos"}\n{"text": "x"}\n', "label", "train.jsonl line 2: missing label"),
        (b'{"text": "ok", "label": "pos"}\n{"text": "\xff bad", "label": "n"}\n', "encoding",
         "train.jsonl line 2: not valid UTF-8"),
        (b'{"label": "pos"}\n', "text", "line 1: missing text"),
        (b"not json\n", "format", "line 1: invalid JSON"),
        (b"\n\n", "format", "train.jsonl: no examples"),
    ],
)  # fmt: skip
def test_the_first_problem_names_file_line_and_field(data, field, message):
    with pytest.raises(DataError, match=message) as e:
        list(iter_examples("train.jsonl", chunks(data)))
    assert e.value.field == field


def test_csv_missing_label_column_is_a_label_problem():
    with pytest.raises(DataError, match="lacks column 'label'") as e:
        file_report("d.csv", [b"text,sentiment\n\xe5\xa5\xbd,pos\n"])
    assert e.value.field == "label"


def valid(counts: dict[str, int]) -> dict:
    return {"valid": True, "report": {"counts": counts, "rows": sum(counts.values()), "labels": sorted(counts)}}


def test_dataset_summary_needs_valid_files_a_train_split_and_known_labels():
    ok = dataset_summary({"train.jsonl": valid({"a": 2, "b": 1}), "test.jsonl": valid({"a": 1}), "README.md": None})
    assert ok["valid"] and ok["state"] == "valid" and ok["rows"] == 4 and set(ok["splits"]) == {"train", "test"}
    bad = dataset_summary({"train.jsonl": {"valid": False, "reason": "train.jsonl line 2: missing label",
                                           "field": "label"}})  # fmt: skip
    assert bad["state"] == "invalid" and bad["problems"][0]["field"] == "label"
    unknown = dataset_summary({"train.jsonl": valid({"a": 2}), "test.jsonl": valid({"z": 1})})
    assert unknown["state"] == "invalid" and "['z'] do not occur" in unknown["problems"][0]["reason"]
    assert dataset_summary({"train.jsonl": None})["state"] == "pending"
    assert dataset_summary({"test.jsonl": valid({"a": 1})})["problems"][0]["field"] == "files"
    assert dataset_summary({})["state"] == "invalid"


def test_old_registrations_decode_as_models_and_validations_follow_file_content():
    old = m.ModelRegistered.model_validate({"model_id": "x", "project_id": "p", "name": "n", "family": "bert"})
    assert m.evolve(m.Model(), old).kind == "model"
    with pytest.raises(Invalid) as e:
        m.decide(m.Model(), m.RegisterModel(model_id="d", project_id="p", name="n", family="other", kind="corpus"))
    assert e.value.field == "kind"
    state = m.MODELS.fold(
        [
            m.ModelRegistered(model_id="d", project_id="p", name="n", family="other", kind="dataset"),
            m.UploadStarted(upload_id="u", path="train.jsonl", size=1, sha256="a" * 64, part_size=5),
            m.FileAdded(upload_id="u", path="train.jsonl", blob="sha256/" + "a" * 64, size=1, sha256="a" * 64),
        ]
    )
    cmd = m.RecordValidation(path="train.jsonl", sha256="a" * 64, valid=False, reason="bad", field="label")
    [evt] = m.decide(state, cmd)
    state = m.evolve(state, evt)
    assert state.validations["train.jsonl"].reason == "bad"
    assert m.decide(state, cmd) == []  # recorded once per content
    with pytest.raises(Conflict):  # a stale read of replaced bytes is not recorded
        m.decide(state, cmd.model_copy(update={"sha256": "b" * 64}))
    state = m.evolve(state, m.FileRemoved(path="train.jsonl", blob="sha256/" + "a" * 64))
    assert state.validations == {}
