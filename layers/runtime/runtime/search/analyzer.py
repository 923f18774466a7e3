"""Chinese-aware text analysis for search: traditional -> simplified folding, jieba word
segmentation, pinyin (full syllables joined per word) and pinyin initials, latin words
lower-cased. The same analyzer runs at index time (in the projector) and at query time, so
both backends match identically.

jieba loads its dictionary lazily on first use (~0.5 s) and caches it in ``cache_dir``.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()
_ready = False


def _jieba() -> Any:
    global _ready
    import jieba

    if not _ready:
        with _lock:
            if not _ready:
                jieba.setLogLevel(60)
                cache = os.environ.get("TLM_JIEBA_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tlm-jieba")
                os.makedirs(cache, exist_ok=True)
                jieba.dt.tmp_dir = cache
                jieba.initialize()
                _ready = True
    return jieba


def fold(text: str) -> str:
    """NFKC, case-fold, traditional -> simplified."""
    import zhconv

    text = unicodedata.normalize("NFKC", text).casefold()
    return str(zhconv.convert(text, "zh-hans")) if _CJK.search(text) else text


@lru_cache(maxsize=4096)
def _pinyin(word: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(word, errors="ignore")
    initials = lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables), "".join(initials)


def words(text: str) -> list[str]:
    """Segment folded text into words: jieba (search mode) for Chinese, runs of [0-9a-z]."""
    out: list[str] = []
    for run in _WORD.findall(fold(text)):
        if _CJK.match(run):
            out.extend(w for w in _jieba().cut_for_search(run) if w.strip())
        else:
            out.append(run)
    return out


SPAN_WORDS = 4  # pinyin / initials terms spanning this many words, from every word on


def index_terms(text: str) -> set[str]:
    """Every term a document is findable by: words, single CJK characters, each Chinese word's
    pinyin and initials, the whole Chinese run's pinyin and initials, and the pinyin and
    initials of up to ``SPAN_WORDS`` consecutive words starting at every word, so that a query
    spanning words from the middle of a name matches by prefix (``qgfl`` and ``qingganfenlei``
    find 中文情感分类模型; the run alone only served queries from its start, like ``zwqg``)."""
    terms: set[str] = set()
    folded = fold(text)
    for run in _WORD.findall(folded):
        if _CJK.match(run):
            terms.update(run)  # single characters
            full, initials = _pinyin(run)
            terms.update(t for t in (run, full, initials) if t)
            for w in _jieba().cut_for_search(run):
                if w.strip():
                    py, ini = _pinyin(w)
                    terms.update(t for t in (w, py, ini) if t)
            spoken = [_pinyin(w) for w in _jieba().cut(run) if w.strip()]
            for i in range(len(spoken)):
                window = spoken[i : i + SPAN_WORDS]
                terms.update(t for t in ("".join(p for p, _ in window), "".join(q for _, q in window)) if t)
        else:
            terms.add(run)
    return terms


def query_terms(text: str) -> list[str]:
    """Terms a query must match (all of them): Chinese runs segmented into words, latin runs
    kept whole (they match pinyin, initials and words by prefix)."""
    seen: list[str] = []
    for w in words(text):
        if w not in seen:
            seen.append(w)
    return seen
