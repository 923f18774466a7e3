"""Starting from a checkpoint, whole-word masking and the CPU-efficiency pieces, on real torch /
transformers / jieba with tiny shapes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from jobs import cache  # noqa: E402
from jobs.loop import bucketed_batches  # noqa: E402
from jobs.modeling import build_from_pretrained, checkpoint_family  # noqa: E402
from jobs.pretrain import mask_batch, word_ids  # noqa: E402
from jobs.tokenizer import train_tokenizer  # noqa: E402
from tests.integration._tiny_model import TEXTS, make_tiny_model  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("ckpt") / "m")


def test_encoder_weights_are_kept_and_the_head_is_new(ckpt: Path) -> None:
    from safetensors.torch import load_file

    saved = load_file(str(ckpt / "model.safetensors"))
    # When a 2-label classifier checkpoint starts a 3-label training, and a 2-label one
    three = build_from_pretrained(ckpt, ["a", "b", "c"])
    two = build_from_pretrained(ckpt, ["x", "y"])
    # Then every encoder tensor is the checkpoint's, and the head is sized for the labels and fresh
    state = three.state_dict()
    encoder = [k for k in saved if k.startswith("bert.")]
    assert encoder and all(torch.equal(state[k], saved[k]) for k in encoder)
    assert three.classifier.weight.shape == (3, 32) and three.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert not torch.equal(two.classifier.weight, saved["classifier.weight"])  # same shape, still replaced
    assert torch.count_nonzero(two.classifier.bias) == 0


def test_checkpoint_problems_name_the_field(ckpt: Path, tmp_path: Path) -> None:
    assert checkpoint_family(ckpt) == "bert"
    pickles = tmp_path / "pickles"
    pickles.mkdir()
    for f in ("config.json", "tokenizer.json"):
        (pickles / f).write_bytes((ckpt / f).read_bytes())
    (pickles / "pytorch_model.bin").write_bytes(b"\x80\x04never unpickled")
    with pytest.raises(ValueError, match=r"^model.weights: .*only pickled weights \(pytorch_model.bin\)"):
        checkpoint_family(pickles)
    (pickles / "model.safetensors").write_bytes((ckpt / "model.safetensors").read_bytes())
    (pickles / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"^model.tokenizer: "):
        checkpoint_family(pickles)
    cfg = json.loads((ckpt / "config.json").read_text())
    (pickles / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match=r"^model.family: model_type 'gpt2' is not supported"):
        checkpoint_family(pickles)


def test_length_buckets_cover_every_text_once_with_less_padding() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(3, 128) for _ in range(1000)]
    order = torch.randperm(1000, generator=torch.Generator().manual_seed(1)).tolist()
    batches = bucketed_batches(order, lengths, 16, torch.Generator().manual_seed(2))
    again = bucketed_batches(order, lengths, 16, torch.Generator().manual_seed(2))
    assert batches == again  # deterministic: a resumed run continues at the same batch
    assert sorted(i for b in batches for i in b) == list(range(1000))

    def padded(bs: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in bs)

    plain = [order[i : i + 16] for i in range(0, 1000, 16)]
    assert padded(batches) < 0.7 * padded(plain)


def test_whole_word_masking_masks_jieba_words_together() -> None:
    tok = train_tokenizer(TEXTS + ["我们喜欢北京天安门"] * 3, vocab_size=300)
    text = "我们喜欢北京天安门"
    enc = tok(text, return_offsets_mapping=True)
    words = word_ids(text, [tuple(o) for o in enc["offset_mapping"]], tok.convert_ids_to_tokens(enc["input_ids"]),
                     chinese=True)  # fmt: skip
    # jieba: 我们 / 喜欢 / 北京 / 天安门 -> 4 groups over 9 character tokens, specials apart
    assert words[0] == words[-1] == -1 and len(set(words[1:-1])) == 4
    assert words[1] == words[2] and words[7] == words[8] == words[9]
    x, y = mask_batch([enc["input_ids"]] * 50, [words] * 50, tok, 0.15, random.Random(0))
    for labels in y:
        chosen = {i for i, v in enumerate(labels) if v != -100}
        groups = {w for i, w in enumerate(words) if i in chosen}
        assert chosen == {i for i, w in enumerate(words) if w in groups}  # whole words only
    assert any(tok.mask_token_id in row for row in x)


def test_token_cache_is_keyed_by_file_and_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLM_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "x"}) + "\n" for t in TEXTS))
    tok = train_tokenizer(TEXTS, vocab_size=300)
    k = cache.key(cache.file_digest(data), cache.tokenizer_digest(tok), 32)
    assert cache.read_ids(k) is None
    cache.write_ids(k, [[1, 2, 3]])
    assert cache.read_ids(k) == [[1, 2, 3]]
    digest = cache.tokenizer_digest(tok)
    tok(TEXTS, truncation=True, max_length=8)  # call-time state does not change the key
    tok.save_pretrained(str(tmp_path / "tok"))
    from jobs.tokenizer import load_tokenizer

    assert cache.tokenizer_digest(tok) == digest == cache.tokenizer_digest(load_tokenizer(tmp_path / "tok"))
    other = train_tokenizer(TEXTS, vocab_size=300, lowercase=False)
    assert cache.key(cache.file_digest(data), cache.tokenizer_digest(other), 32) != k
    data.write_text(data.read_text() + '{"text": "新的", "label": "x"}\n')
    assert cache.key(cache.file_digest(data), cache.tokenizer_digest(tok), 32) != k
