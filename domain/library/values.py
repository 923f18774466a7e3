"""Value objects and validation rules for the model library (pure)."""

from __future__ import annotations

import re
import unicodedata

from domain.errors import Invalid

FAMILIES = ("bert", "roberta", "albert", "electra", "xlnet", "other")
ROLES = ("viewer", "editor", "owner")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# user ids: local names, Cognito subs (UUIDs), e-mail-like ids; never '/', spaces or control chars
USER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME = 128
MAX_TAGS = 32


def clean_name(value: str, *, field: str = "name") -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise Invalid("must not be empty", field=field)
    if len(name) > MAX_NAME:
        raise Invalid(f"at most {MAX_NAME} characters", field=field)
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise Invalid("control characters are not allowed", field=field)
    return name


def name_key(name: str) -> str:
    """Uniqueness key of a name: NFKC, case-folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def clean_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags", field="tags")
    out: list[str] = []
    for i, tag in enumerate(tags):
        t = clean_name(tag, field=f"tags[{i}]")
        if len(t) > 64:
            raise Invalid("a tag has at most 64 characters", field=f"tags[{i}]")
        if t not in out:
            out.append(t)
    return out


def clean_family(family: str) -> str:
    f = family.strip().lower()
    if f not in FAMILIES:
        raise Invalid(f"unknown family {family!r}; one of {', '.join(FAMILIES)}", field="family")
    return f


def clean_file_path(path: str, *, field: str = "path") -> str:
    """A file path inside a model: relative, forward slashes, no '..', no NUL, no drive, no
    absolute path, no backslash. Returns the normalised path."""
    if not isinstance(path, str) or not path:
        raise Invalid("must not be empty", field=field)
    if "\x00" in path:
        raise Invalid("must not contain a NUL byte", field=field)
    if "\\" in path:
        raise Invalid("must use forward slashes", field=field)
    if path.startswith("/"):
        raise Invalid("must be relative, not absolute", field=field)
    if _WINDOWS_DRIVE.match(path):
        raise Invalid("must not name a drive", field=field)
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise Invalid("must not contain empty, '.' or '..' segments", field=field)
    if any(unicodedata.category(c).startswith("C") for c in path):
        raise Invalid("control characters are not allowed", field=field)
    if len(path) > 512:
        raise Invalid("at most 512 characters", field=field)
    return unicodedata.normalize("NFC", path)


def clean_sha256(value: str, *, field: str = "sha256") -> str:
    v = value.strip().lower()
    if not SHA256_RE.match(v):
        raise Invalid("must be 64 hex characters", field=field)
    return v


def clean_user_id(value: str, *, field: str = "user_id") -> str:
    if not isinstance(value, str) or not USER_ID_RE.match(value):
        raise Invalid("1-128 letters, digits or . _ @ : + - (starting with a letter or digit)", field=field)
    return value


def role_allows(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]
