"""Infra fixtures: the Lambda assets are built once (cached under .cache/lambda) and the CDK app is
synthesized ONCE per session: by the npm ``cdk`` CLI (./node_modules/.bin/cdk, offline) when it is
installed, else in-process. Every infra test reads that one cloud assembly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # infra/ is not an installed package
    sys.path.insert(0, str(REPO))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO / ".cache" / "jsii"))

CDK_CLI = REPO / "node_modules" / ".bin" / "cdk"
STACKS = ("Storage", "Api", "Projector", "Uploads", "Workflows", "Observability", "Web")


@dataclass
class Assembly:
    outdir: Path
    mode: str  # "cli" | "in-process"
    seconds: float
    cli_output: str = ""

    def template(self, short: str) -> dict:
        return json.loads((self.outdir / f"Tlm{short}.template.json").read_text())


@pytest.fixture(scope="session")
def lambda_assets():
    from infra import packaging

    return packaging.build(REPO / ".cache" / "lambda")


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    # any network attempt fails at once: the synth must not need it
    env.update(
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        NO_PROXY="",
        no_proxy="",
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
    )
    return env


def web_bundle_stand_in(root: Path) -> Path:
    """A tiny built-bundle stand-in for the web stack (tlm:web-dist): infra tests need not build the UI."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<!doctype html><script type="module" src="/assets/app-0.js"></script>')
    (root / "assets" / "app-0.js").write_text("console.log('tlm');\n")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "config.json").write_text('{"apiUrl": "", "auth": {"kind": "token"}}')  # replaced on AWS
    return root


@pytest.fixture(scope="session")
def assembly(lambda_assets, tmp_path_factory) -> Assembly:
    outdir = tmp_path_factory.mktemp("cdk") / "cdk.out"
    web_dist = web_bundle_stand_in(tmp_path_factory.mktemp("web") / "dist")
    started = time.monotonic()
    if CDK_CLI.exists():
        cmd = [
            str(CDK_CLI),
            "synth",
            "--quiet",
            "--no-notices",
            "--no-version-reporting",
            "--app",
            f"{sys.executable} -m infra.app",
            "--output",
            str(outdir),
            "--context",
            f"tlm:assets={lambda_assets.root}",
            "--context",
            f"tlm:web-dist={web_dist}",
        ]
        proc = subprocess.run(cmd, cwd=REPO, env=_offline_env(), capture_output=True, text=True, timeout=300)
        out = proc.stdout + proc.stderr
        if proc.returncode != 0:
            pytest.fail(f"cdk synth failed (rc={proc.returncode}):\n{out[-6000:]}")
        return Assembly(outdir, "cli", time.monotonic() - started, out)

    from aws_cdk import App

    from infra.app import build_app

    context = {**json.loads((REPO / "cdk.json").read_text())["context"], "tlm:web-dist": str(web_dist)}
    app = App(outdir=str(outdir), context=context)
    build_app(app, assets=lambda_assets)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return Assembly(outdir, "in-process", time.monotonic() - started)


@pytest.fixture(scope="session")
def templates(assembly) -> dict[str, dict]:
    return {short: assembly.template(short) for short in STACKS}


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}
