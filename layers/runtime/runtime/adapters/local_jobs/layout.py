"""The ``/opt/ml`` layout inside a local job directory, and the job's environment."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from domain.errors import Invalid
from runtime.adapters.sagemaker.requests import channel_env_name, encode_hyperparameters
from runtime.ports import JobSpec

# The only variables a job inherits from the server: no AWS credentials, no tokens.
PASS_THROUGH = (
    "PATH",
    "HOME",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "HF_HOME",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
    "ORT_DISABLE_TELEMETRY",
)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCH_NUM_THREADS")


def prepare_job_dir(job_dir: Path, spec: JobSpec, *, copy_channels: bool = False) -> dict[str, Path]:
    """Create input/config, input/data/<channel>, model, output/data, checkpoints. Local channel
    dirs are symlinked (or copied and made read-only); a local checkpoint_uri is symlinked so a
    later job resumes from it, as SageMaker syncs its S3 checkpoints."""
    config = job_dir / "input" / "config"
    data = job_dir / "input" / "data"
    config.mkdir(parents=True)
    data.mkdir()
    (job_dir / "model").mkdir()
    (job_dir / "output" / "data").mkdir(parents=True)
    (config / "hyperparameters.json").write_text(
        json.dumps(encode_hyperparameters(spec.hyperparameters), ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps({c: {"TrainingInputMode": "File"} for c in spec.channels}), encoding="utf-8"
    )
    channels: dict[str, Path] = {}
    for name, src in spec.channels.items():
        source, target = Path(src).resolve(), data / name
        if copy_channels:
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                target.mkdir()
                shutil.copy2(source, target / source.name)
            _read_only(target)
        elif source.is_dir():
            target.symlink_to(source, target_is_directory=True)
        else:  # a single file: SageMaker channels are directories
            target.mkdir()
            (target / source.name).symlink_to(source)
        channels[name] = target
    ckpt = job_dir / "checkpoints"
    if spec.checkpoint_uri:
        Path(spec.checkpoint_uri).mkdir(parents=True, exist_ok=True)
        ckpt.symlink_to(Path(spec.checkpoint_uri).resolve(), target_is_directory=True)
    else:
        ckpt.mkdir()
    return channels


def check_local_spec(spec: JobSpec) -> None:
    for name, src in spec.channels.items():
        if not name or "/" in name or name.startswith("."):
            raise Invalid(f"channel name {name!r} is not valid", field=f"channels.{name}")
        if src.startswith("s3://") or not Path(src).exists():
            raise Invalid(
                f"channel {name!r}: {src!r} is not an existing local path", field=f"channels.{name}"
            )
    for field, uri in (("output_uri", spec.output_uri), ("checkpoint_uri", spec.checkpoint_uri)):
        if uri and "://" in uri:
            raise Invalid(f"{field} must be a local directory for a local job", field=field)
    if spec.max_runtime_s <= 0:
        raise Invalid("max_runtime_s must be positive", field="max_runtime_s")
    if spec.cpu_limit is not None and spec.cpu_limit <= 0:
        raise Invalid("cpu_limit must be positive", field="cpu_limit")
    if spec.memory_limit_mb is not None and spec.memory_limit_mb < 64:
        raise Invalid("memory_limit_mb must be at least 64", field="memory_limit_mb")


def job_environment(
    job_dir: Path, spec: JobSpec, channels: Mapping[str, Path], parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    parent = os.environ if parent is None else parent
    env = {k: parent[k] for k in PASS_THROUGH if k in parent}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    if spec.cpu_limit:
        env.update(dict.fromkeys(THREAD_VARS, str(max(1, math.ceil(spec.cpu_limit)))))
    env.update(spec.environment)
    env.update(
        {
            "TLM_JOB_ROOT": str(job_dir),
            "TLM_JOB_NAME": spec.name,
            "SM_HPS": json.dumps(spec.hyperparameters, ensure_ascii=False),
            "SM_MODEL_DIR": str(job_dir / "model"),
            "SM_OUTPUT_DATA_DIR": str(job_dir / "output" / "data"),
            "SM_CHECKPOINT_DIR": str(job_dir / "checkpoints"),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_CURRENT_HOST": "algo-1",
            "SM_HOSTS": '["algo-1"]',
        }
    )
    env.update({channel_env_name(n): str(p) for n, p in channels.items()})
    return env


def _read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode & ~0o222)
