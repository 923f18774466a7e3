"""A small real labelled dataset for a browser test, cheaply (~1 s, no job): 60 short Chinese
reviews, two labels, split train/validation/test, registered and uploaded through the API (each
file one part, validated in-process when its upload completes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from tests.e2e.conftest import Platform

ITEMS = ("手机", "耳机", "电脑", "相机", "键盘", "鼠标", "音箱", "手表", "台灯", "背包")
GOOD = ("质量很好，非常喜欢", "物流很快，值得购买", "做工精致，推荐")
BAD = ("质量太差，很失望", "用了两天就坏了", "客服态度差，不推荐")
SPLITS = {"train": range(0, 4), "validation": range(4, 7), "test": range(7, 10)}  # items per split


def rows(items: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {"text": f"这个{item}{phrase}", "label": label}
        for item in items
        for label, phrases in (("positive", GOOD), ("negative", BAD))
        for phrase in phrases
    ]


def _upload(http: httpx.Client, dataset_id: str, path: str, data: bytes) -> None:
    body = {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    up = http.post(f"/models/{dataset_id}/uploads", json=body).json()
    for part in up["parts"]:  # one part: the files are far smaller than a part
        r = httpx.request(part["method"], part["url"], content=data, headers=part["headers"], timeout=60)
        assert r.status_code < 300, r.text
    r = http.post(f"/models/{dataset_id}/uploads/{up['upload_id']}/complete")
    assert r.status_code == 200, r.text


def sentiment_dataset(p: Platform, project_id: str, name: str = "评论情感") -> str:
    """The id of a valid two-label dataset (60 texts: 24 train, 18 validation, 18 test) in ``project_id``."""
    with p.http() as http:
        r = http.post(f"/projects/{project_id}/datasets", json={"name": name})
        assert r.status_code == 201, r.text
        dataset_id = str(r.json()["model_id"])
        for split, idx in SPLITS.items():
            lines = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows(tuple(ITEMS[i] for i in idx)))
            _upload(http, dataset_id, f"{split}.jsonl", lines.encode())
        ds: dict[str, Any] = http.get(f"/datasets/{dataset_id}").json()
    assert ds["validation"]["state"] == "valid", ds["validation"]
    return dataset_id
