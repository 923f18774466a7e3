"""Signed local URLs (HMAC-SHA256 + expiry), the secret file, and download file names."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from domain.errors import Forbidden, Invalid
from runtime.adapters.fs.blob_rules import content_disposition, safe_filename, upload_id_from_staging_key
from runtime.adapters.fs.blob_store import LocalBlobStore
from runtime.adapters.fs.signing import UrlSigner, load_or_create_secret

pytestmark = pytest.mark.unit

PATH = "/uploads/" + "a" * 32 + "/parts/1"
KEY = "sha256/" + "b" * 64


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def q(query: str) -> dict[str, str]:
    return dict(parse_qsl(query))


def test_a_signed_url_verifies_and_returns_its_parameters() -> None:
    signer = UrlSigner(b"s" * 32, clock=Clock())
    query = q(signer.sign("GET", "/blobs/" + KEY, {"filename": "模型.bin"}, expires_s=60))
    assert signer.verify("GET", "/blobs/" + KEY, query) == {"filename": "模型.bin"}


def test_tampering_with_path_method_params_or_signature_is_forbidden() -> None:
    signer = UrlSigner(b"s" * 32, clock=Clock())
    query = q(signer.sign("PUT", PATH, {"filename": "a"}, expires_s=60))
    cases = [
        ("PUT", PATH.replace("/parts/1", "/parts/2"), query),
        ("GET", PATH, query),
        ("PUT", PATH, {**query, "filename": "b"}),
        ("PUT", PATH, {**query, "extra": "1"}),
        ("PUT", PATH, {**query, "sig": query["sig"][:-1] + ("0" if query["sig"][-1] != "0" else "1")}),
        ("PUT", PATH, {**query, "expires": str(int(query["expires"]) + 3600)}),
        ("PUT", PATH, {k: v for k, v in query.items() if k != "sig"}),
        ("PUT", PATH, {**query, "sig": "ü" * 64}),
    ]
    for method, path, params in cases:
        with pytest.raises(Forbidden) as err:
            signer.verify(method, path, params)
        assert err.value.field == "sig", (method, path, params)
    with pytest.raises(Forbidden):  # another secret's signature
        UrlSigner(b"t" * 32, clock=Clock()).verify("PUT", PATH, query)


def test_an_expired_url_is_forbidden() -> None:
    clock = Clock()
    signer = UrlSigner(b"s" * 32, clock=clock)
    query = q(signer.sign("PUT", PATH, expires_s=60))
    clock.now += 60
    signer.verify("PUT", PATH, query)  # still valid at the expiry second
    clock.now += 1
    with pytest.raises(Forbidden) as err:
        signer.verify("PUT", PATH, query)
    assert err.value.field == "expires"


def test_the_secret_file_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first and len(first) == 64
    os.chmod(path, 0o644)  # loosened by hand: tightened again on use
    assert load_or_create_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "secret.key"]  # no temp files left


def test_the_local_store_verifies_its_own_part_and_download_urls(tmp_path: Path) -> None:
    clock = Clock()
    store = LocalBlobStore(tmp_path / "blobs", "http://host:1/tlm/", tmp_path / "secret.key", clock=clock)
    up = store.create_upload(expected_size=10, expected_sha256="c" * 64, part_size=5 * 1024 * 1024)
    (target,) = store.part_targets(up.upload_id, [1])
    url = urlsplit(target.url)
    route = url.path.removeprefix("/tlm")
    assert target.url.startswith(f"http://host:1/tlm/uploads/{up.upload_id}/parts/1?")
    signed = store.verify("PUT", route, q(url.query))
    assert (signed.kind, signed.upload_id, signed.part_number) == ("part", up.upload_id, 1)
    with pytest.raises(Forbidden):
        store.verify("GET", route, q(url.query))  # a part URL is for PUT only
    with pytest.raises(Forbidden):
        store.verify("PUT", "/uploads/../secret.key", q(url.query))
    dl = urlsplit(store.download_url(KEY, filename="../../中文 模型.bin"))
    signed = store.verify("HEAD", dl.path.removeprefix("/tlm"), q(dl.query))
    assert (signed.kind, signed.key, signed.filename) == ("blob", KEY, "中文 模型.bin")
    forged = {**q(dl.query), "filename": "other.bin"}
    with pytest.raises(Forbidden):
        store.verify("GET", dl.path.removeprefix("/tlm"), forged)
    with pytest.raises(Invalid):
        store.download_url("sha256/../../secret.key")
    clock.now += 3601
    with pytest.raises(Forbidden):
        store.verify("PUT", route, q(url.query))


def test_download_file_names_are_reduced_to_a_safe_last_component() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\model.bin") == "model.bin"
    assert safe_filename('a"b\x00c\r\nd.bin') == "a_b_c__d.bin"
    assert safe_filename("..") == "download"
    header = content_disposition("中文模型.safetensors")
    assert header.startswith('attachment; filename="____.safetensors"; ')
    assert header.endswith("filename*=UTF-8''%E4%B8%AD%E6%96%87%E6%A8%A1%E5%9E%8B.safetensors")


def test_staging_keys_map_back_to_upload_ids_and_nothing_else() -> None:
    assert upload_id_from_staging_key("uploads/" + "a" * 32) == "a" * 32
    for key in ("uploads/" + "a" * 32 + "/../x", "sha256/" + "a" * 32, "uploads/../" + "a" * 29, "uploads/"):
        with pytest.raises(Invalid):
            upload_id_from_staging_key(key)
