"""Model library end to end, over HTTP and through the `tlm` CLI, as a user drives it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform
from tlm.auth import TokenBook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MiB = 1024 * 1024


def big_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            chunk = block[i % 7 :] + block[: i % 7]  # varied, cheap to make
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def test_a_user_uploads_finds_downloads_and_deletes_a_chinese_model(platform: Platform, tmp_path: Path) -> None:
    # Given a project and a model named in Chinese
    out = platform.cli("--json", "projects", "create", "情感分析组", "--description", "NLP team")
    project = json.loads(out.stdout)
    model = json.loads(
        platform.cli(
            "--json",
            "models",
            "register",
            project["project_id"],
            "中文情感分类模型",
            "--family",
            "bert",
            "--tag",
            "情感",
            "--tag",
            "sentiment",
            "--description",
            "基于商品评论训练的分类器",
        ).stdout
    )
    other = json.loads(
        platform.cli("--json", "models", "register", project["project_id"], "机器翻译模型", "--family", "xlnet").stdout
    )
    mid = model["model_id"]

    # And a 64 MiB weights file whose upload was interrupted after 3 of 8 parts
    weights = tmp_path / "model.safetensors"
    sha = big_file(weights, 64 * MiB)
    with platform.http() as http:
        started = http.post(
            f"/models/{mid}/uploads",
            json={"path": "model.safetensors", "size": 64 * MiB, "sha256": sha, "part_size": 8 * MiB},
        ).json()
        assert started["part_count"] == 8
        with open(weights, "rb") as f:
            for part in started["parts"][:3]:
                f.seek((part["part_number"] - 1) * 8 * MiB)
                assert http.put(part["url"], content=f.read(8 * MiB)).status_code == 200
        status = http.get(f"/models/{mid}/uploads/{started['upload_id']}").json()
        assert status["uploaded_parts"] == [1, 2, 3] and status["missing_parts"] == [4, 5, 6, 7, 8]

    # When the user runs the upload again, it resumes and only sends what is missing
    res = platform.cli("models", "upload", mid, str(weights))
    assert "resumed" in res.stdout
    shown = json.loads(platform.cli("--json", "models", "show", mid).stdout)
    assert shown["files"] == [{"path": "model.safetensors", "size": 64 * MiB, "sha256": sha}]
    assert shown["open_uploads"] == []

    # Then it is found by a Chinese word, pinyin, initials, traditional characters and tag
    for query in ("情感", "qinggan", "zwqg", "分類", "评论"):
        hits = json.loads(platform.cli("--json", "models", "search", query).stdout)["items"]
        assert [h["model_id"] for h in hits][:1] == [mid], query
    by_tag = json.loads(platform.cli("--json", "models", "search", "--tag", "sentiment").stdout)["items"]
    assert [h["model_id"] for h in by_tag] == [mid]
    either = json.loads(platform.cli("--json", "models", "search", "情感 OR 翻译").stdout)["items"]
    assert {h["model_id"] for h in either} == {mid, other["model_id"]}

    # And a download is byte-identical (sha256 checked by the CLI and here)
    dest = tmp_path / "downloaded.safetensors"
    platform.cli("models", "download", mid, "model.safetensors", "--dest", str(dest))
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == sha

    # And an interrupted download resumes from where it stopped (HTTP Range)
    again = tmp_path / "again.safetensors"
    (tmp_path / "again.safetensors.part").write_bytes(weights.read_bytes()[: 10 * MiB])
    res = json.loads(
        platform.cli("--json", "models", "download", mid, "model.safetensors", "--dest", str(again)).stdout
    )
    assert res["resumed"] is True and hashlib.sha256(again.read_bytes()).hexdigest() == sha

    # And a Range request returns just those bytes
    with platform.http() as http:
        url = http.get(f"/models/{mid}/download", params={"path": "model.safetensors"}).json()["url"]
        r = http.get(url, headers={"Range": "bytes=100-199"})
        assert r.status_code == 206 and r.content == weights.read_bytes()[100:200]
        assert r.headers["Content-Range"] == f"bytes 100-199/{64 * MiB}"
        assert http.get(url, headers={"Range": f"bytes={64 * MiB}-"}).status_code == 416  # unsatisfiable
        assert http.head(url, headers={"Range": "bytes=9-1"}).status_code == 200  # unparseable: ignored

    # And the history tells who did what
    history = json.loads(platform.cli("--json", "models", "history", mid).stdout)["items"]
    assert [h["type"] for h in history] == ["model.registered", "model.upload_started", "model.file_added"]
    assert {h["actor"] for h in history[:2]} == {"local"}

    # When it is deleted
    platform.cli("models", "delete", mid, "--yes")

    # Then it is gone: 404, no search hit
    with platform.http() as http:
        assert http.get(f"/models/{mid}").status_code == 404
    assert json.loads(platform.cli("--json", "models", "search", "情感").stdout)["items"] == []
    gone = platform.cli("models", "show", mid, check=False)
    assert gone.returncode == 2 and "404" in gone.stderr

    # When the server restarts, everything else is intact
    platform.stop()
    platform.start()
    projects = json.loads(platform.cli("--json", "projects", "list").stdout)["items"]
    assert [p["project_id"] for p in projects] == [project["project_id"]]
    listed = json.loads(platform.cli("--json", "models", "list").stdout)["items"]
    assert [m["model_id"] for m in listed] == [other["model_id"]]
    assert (
        json.loads(platform.cli("--json", "models", "search", "fanyi").stdout)["items"][0]["model_id"]
        == other["model_id"]
    )


def test_bad_input_gets_a_clear_4xx_and_writes_nothing(platform: Platform) -> None:
    http = platform.http()
    project = http.post("/projects", json={"name": "demo"}).json()
    pid = project["project_id"]
    model = http.post(f"/projects/{pid}/models", json={"name": "m1", "family": "bert"}).json()
    mid = model["model_id"]
    bob = TokenBook(platform.data_dir).issue("bob")
    assert http.put(f"/projects/{pid}/members/bob", json={"role": "viewer"}).status_code == 200

    def versions() -> list[int]:
        return [h["version"] for h in http.get(f"/models/{mid}/history").json()["items"]]

    before = versions()

    def expect(resp, status: int, field: str) -> None:  # type: ignore[no-untyped-def]
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert body["field"] == field, body
        assert "Traceback" not in resp.text

    # file names that try to escape
    for bad in ("../etc/passwd", "/abs/path", "a\x00b", "C:\\x", "C:evil", "a/../b"):
        r = http.post(f"/models/{mid}/uploads", json={"path": bad, "size": 10, "sha256": "a" * 64})
        expect(r, 422, "path")
    # a wrong sha256 at completion: rejected, nothing added
    data = os.urandom(1000)
    up = http.post(f"/models/{mid}/uploads", json={"path": "x.bin", "size": 1000, "sha256": "0" * 64}).json()
    assert http.put(up["parts"][0]["url"], content=data).status_code == 200
    expect(http.post(f"/models/{mid}/uploads/{up['upload_id']}/complete"), 422, "sha256")
    assert http.get(f"/models/{mid}").json()["files"] == []
    assert not list((platform.data_dir / "blobs" / "sha256").glob("*"))
    # an oversize part (server limit 16 MiB here)
    up2 = http.post(
        f"/models/{mid}/uploads", json={"path": "y.bin", "size": 40 * MiB, "sha256": "1" * 64, "part_size": 16 * MiB}
    ).json()
    r = http.put(up2["parts"][0]["url"], content=b"\0" * (16 * MiB + 1))
    expect(r, 413, "part")
    # an unknown project
    expect(http.post("/projects/nope/models", json={"name": "m", "family": "bert"}), 404, "project_id")
    # a viewer deleting
    with platform.http(bob) as as_bob:
        assert as_bob.get(f"/models/{mid}").status_code == 200
        expect(as_bob.delete(f"/models/{mid}"), 403, "project_id")
    # a duplicate model name in one project (case and width folded)
    expect(http.post(f"/projects/{pid}/models", json={"name": "M1", "family": "bert"}), 409, "name")
    # malformed JSON, a missing required field, an unknown family
    r = http.post(f"/projects/{pid}/models", content=b'{"name": "x",', headers={"Content-Type": "application/json"})
    expect(r, 400, "body")
    expect(http.post(f"/projects/{pid}/models", json={"family": "bert"}), 422, "name")
    expect(http.post(f"/projects/{pid}/models", json={"name": "z", "family": "gpt"}), 422, "family")
    # a chunked body (no Content-Length) on a part URL
    def chunks():
        yield b"x" * 10

    expect(http.put(up2["parts"][1]["url"], content=chunks()), 411, "Content-Length")
    # no token
    with platform.http("") as anon:
        expect(anon.get("/models"), 401, "Authorization")
    # a tampered part URL
    bad_url = up2["parts"][1]["url"].replace("sig=", "sig=0")
    expect(http.put(bad_url, content=b"x"), 403, "sig")

    # nothing half-written: the model's log only holds the uploads that were started, then rejected
    after = http.get(f"/models/{mid}/history").json()["items"]
    assert [h["type"] for h in after[len(before) :]] == [
        "model.upload_started",
        "model.upload_rejected",
        "model.upload_started",
    ]
    assert len(http.get("/models").json()["items"]) == 1


def test_idempotency_key_replays_the_first_answer(platform: Platform) -> None:
    http = platform.http()
    first = http.post("/projects", json={"name": "once"}, headers={"Idempotency-Key": "abc"})
    again = http.post("/projects", json={"name": "once"}, headers={"Idempotency-Key": "abc"})
    assert first.status_code == again.status_code == 201
    assert first.json()["project_id"] == again.json()["project_id"]
    assert len(http.get("/projects").json()["items"]) == 1
    other = http.post("/projects", json={"name": "twice"}, headers={"Idempotency-Key": "abc"})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"


def test_openapi_and_swagger_are_served(platform: Platform) -> None:
    with platform.http("") as anon:
        doc = anon.get("/swagger", params={"format": "json"}).json()
        assert doc["info"]["title"] == "TLM API"
        assert "/models/{model_id}/uploads" in doc["paths"]
        assert "swagger-ui" in anon.get("/swagger").text.lower()


def test_a_failed_write_is_not_replayed_for_its_idempotency_key(platform: Platform) -> None:
    http = platform.http()
    pid = http.post("/projects", json={"name": "p"}).json()["project_id"]
    first = http.post(f"/projects/{pid}/models", json={"name": "taken", "family": "bert"}).json()
    # a failed attempt (409: the name is taken) ...
    r = http.post(
        f"/projects/{pid}/models", json={"name": "taken", "family": "bert"}, headers={"Idempotency-Key": "k9"}
    )
    assert r.status_code == 409
    # ... is not remembered: once the cause is gone, the same key goes through
    assert http.delete(f"/models/{first['model_id']}").status_code == 200
    r = http.post(
        f"/projects/{pid}/models", json={"name": "taken", "family": "bert"}, headers={"Idempotency-Key": "k9"}
    )
    assert r.status_code == 201
    again = http.post(
        f"/projects/{pid}/models", json={"name": "taken", "family": "bert"}, headers={"Idempotency-Key": "k9"}
    )
    assert again.status_code == 201 and again.json()["model_id"] == r.json()["model_id"]
