"""The one entry point of the jobs image: ``train`` (what SageMaker runs: ``<image> train``).

It picks the program, prepares the SageMaker-shaped inputs, then runs ``python -m jobs.<program>``
in this process (``runpy``, so signals, exit codes and the failure file are the program's own):

- the program comes from env ``TLM_JOB_PROGRAM`` (the ASL and the SageMaker runner set it) or the
  reserved hyperparameter ``tlm_program``; the reserved key is removed from the hyperparameters the
  program sees (``SM_HPS`` is set without it). A name is a key of :data:`PROGRAMS` or a module
  under ``jobs`` (``datasets.snownlp_sentiment``) that exists in the image.
- a channel that holds a single ``*.tar.gz`` (SageMaker downloads a previous job's
  ``model.tar.gz`` that way) is unpacked in place (tarfile's ``data`` filter: no links out, no
  absolute paths), so ``evaluate`` and ``package`` see the model dir, as locally. Channels that are
  symlinks (the local runner links source dirs) are never written to.

The local job runner launches every ``jobs.*`` program through here too
(``python -m jobs.entry train``), so the dispatch path runs on every local job.

The SageMaker Training Toolkit is deliberately not used: it installs its own ``train`` command
and builds a C extension from source (no wheel), and TLM's contract needs only what is here.
Standard library only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import runpy
import sys
import tarfile
from pathlib import Path
from typing import Any

from jobs import contract

PROGRAM_ENV = "TLM_JOB_PROGRAM"
PROGRAM_HP = "tlm_program"
COMMANDS = ("train",)  # SageMaker training runs "train"; processing jobs are given the same
PROGRAMS = {
    "train": "jobs.train",
    "evaluate": "jobs.evaluate",
    "compile": "jobs.compile",
    "package": "jobs.package",
    "arch_test": "jobs.arch_test",
    "pretrain": "jobs.pretrain",
    "import_snownlp": "jobs.datasets.snownlp_sentiment",
}
_MODULE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class EntryError(contract.JobError):
    """The entry point could not start a program (the reason goes to the failure file)."""


def _raw_hyperparameters() -> dict[str, Any]:
    raw = os.environ.get("SM_HPS")
    if raw:
        data = json.loads(raw)
    else:
        path = contract.root() / "input" / "config" / "hyperparameters.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not isinstance(data, dict):
        raise EntryError("hyperparameters must be a JSON object")
    return data


def _decode_name(value: Any) -> str:
    """SageMaker passes strings; the ASL JSON-encodes references (``"\\"train\\""``)."""
    if isinstance(value, str) and value.startswith('"'):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return str(value)


def resolve(program: str) -> str:
    """The module to run for ``program`` (a PROGRAMS key, ``jobs.x`` or ``x`` under jobs)."""
    name = program.strip()
    module = PROGRAMS.get(name) or (name if name.startswith("jobs.") else f"jobs.{name}")
    if not _MODULE.match(module) or module == __name__ or module == "jobs.contract":
        raise EntryError(f"{program!r} is not a job program")
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    # a plain module file: not a package, not a namespace dir such as jobs/bin
    found = spec is not None and str(spec.origin or "").endswith(".py") and not spec.submodule_search_locations
    if not found:
        raise EntryError(f"no job program {program!r} in this image ({', '.join(sorted(PROGRAMS))})")
    return module


def _channel_dirs() -> list[Path]:
    dirs = {Path(v) for k, v in os.environ.items() if k.startswith("SM_CHANNEL_") and v}
    data = contract.root() / "input" / "data"
    if data.is_dir():
        dirs.update(p for p in data.iterdir() if p.is_dir())
    return sorted(dirs)


def unpack_channel_archives() -> list[Path]:
    """Unpack every channel that is one ``*.tar.gz`` file; returns the channels unpacked."""
    unpacked = []
    for ch in _channel_dirs():
        if ch.is_symlink() or not ch.is_dir():
            continue
        entries = list(ch.iterdir())
        if len(entries) != 1:
            continue
        (archive,) = entries
        if archive.is_symlink() or not archive.is_file() or not archive.name.endswith(".tar.gz"):
            continue
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(ch, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise EntryError(f"channel {ch.name}: cannot unpack {archive.name} ({e})") from None
        archive.unlink()
        unpacked.append(ch)
    return unpacked


def prepare(argv: list[str]) -> str:
    """Check the command, choose the program, set ``SM_HPS``, unpack channels; the module."""
    if argv[:1] and argv[0] not in COMMANDS:
        raise EntryError(f"unknown command {argv[0]!r} (the image runs: {' | '.join(COMMANDS)})")
    hps = _raw_hyperparameters()
    from_hp = hps.pop(PROGRAM_HP, None)
    program = os.environ.get(PROGRAM_ENV) or (_decode_name(from_hp) if from_hp is not None else "")
    if not program:
        raise EntryError(f"no program: set {PROGRAM_ENV} or the hyperparameter {PROGRAM_HP!r}")
    module = resolve(program)
    os.environ["SM_HPS"] = json.dumps(hps, ensure_ascii=False)
    unpack_channel_archives()
    return module


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        module = prepare(args)
    except (contract.JobError, ValueError, OSError) as e:
        msg = f"{type(e).__name__}: {e}"
        print(f"FAILED {msg}", file=sys.stderr, flush=True)
        contract.write_failure(msg)
        sys.exit(1)
    print(f"[tlm-entry] running {module}", flush=True)
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
