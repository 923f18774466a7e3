"""SageMaker real-time endpoints, played for tests on moto.

moto records CreateModel / CreateEndpointConfig / CreateEndpoint and answers InvokeEndpoint with a
canned body; it runs no container. Here ``InvokeEndpoint`` is answered the way SageMaker answers
it: the endpoint's model (as moto stored it) names the package (``ModelDataSource`` prefix or
``ModelDataUrl`` tar.gz) and the container's ``Environment``; the package is downloaded from
(moto's) S3 into an ``/opt/ml/model``-shaped dir and served by ``jobs.serve`` configured only by
that environment (``<image> serve``'s contract), and the request body is forwarded to its
``/invocations``. Each call is also published to CloudWatch as SageMaker does (``Invocations``,
``Invocation4XXErrors``, ``Invocation5XXErrors``; ``ModelLatency`` is left out: moto 5.2.5 fails
``GetMetricData`` with a percentile stat once such data exists).

``RequestLog`` records every request the adapter's clients make and validates each against
botocore's service model (``ParamValidator``), as the SageMaker job-runner tests do.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

REPO = Path(__file__).resolve().parents[1]


class RequestLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.problems: list[str] = []

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        def before(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((service, model.name, params))
            report = ParamValidator().validate(params, model.input_shape)
            if report.has_errors():
                self.problems.append(f"{service}.{model.name}: {report.generate_report()}")

        client.meta.events.register(f"before-parameter-build.{service}", before)
        return client

    def operations(self) -> set[str]:
        return {f"{s}.{op}" for s, op, _ in self.calls}


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data, self._io = data, io.BytesIO(data)

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, amt: int | None = None) -> bytes:
        return self._io.read(amt)


class PlaysSageMakerEndpoints:
    def __init__(self, sagemaker: Any, s3: Any, cloudwatch: Any, tmp: Path) -> None:
        self.sm, self.s3, self.cw, self.tmp = sagemaker, s3, cloudwatch, tmp
        self._procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def attach(self, runtime_client: Any) -> Any:
        runtime_client.meta.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", self._send)
        return runtime_client

    def close(self) -> None:
        for proc, _ in self._procs.values():
            proc.terminate()
        for proc, _ in self._procs.values():
            proc.wait(timeout=10)

    # ---------------------------------------------------------------- SageMaker's part
    def _send(self, request: Any, **_: Any) -> AWSResponse:
        name = unquote(request.url.split("/endpoints/", 1)[1].split("/", 1)[0])
        port = self._container(name)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/invocations", body=request.body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
        conn.close()
        self._publish(name, status)
        if status == 200:
            return AWSResponse(request.url, 200, {"Content-Type": "application/json",
                                                  "Content-Length": str(len(body))}, _Raw(body))
        error = json.dumps({"ErrorCode": "CLIENT_ERROR_FROM_MODEL" if status < 500 else "SERVER_ERROR_FROM_MODEL",
                            "OriginalStatusCode": status, "OriginalMessage": body.decode(),
                            "Message": f"Received client error ({status}) from primary"}).encode()
        return AWSResponse(request.url, 424, {"x-amzn-ErrorType": "ModelError", "Content-Type": "application/json",
                                              "Content-Length": str(len(error))}, _Raw(error))

    def _container(self, endpoint: str) -> int:
        config = self.sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        if config in self._procs:
            return self._procs[config][1]
        variant = self.sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
        container = self.sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]
        model_dir = self.tmp / config / "opt-ml-model"
        self._download(container, model_dir)
        port_file = self.tmp / config / "port"
        env = {**os.environ, **container.get("Environment", {}), "TLM_SERVE_MODEL_DIR": str(model_dir),
               "TLM_SERVE_HOST": "127.0.0.1", "TLM_SERVE_PORT": "0", "TLM_SERVE_PORT_FILE": str(port_file)}
        proc = subprocess.Popen([sys.executable, "-m", "jobs.serve"], cwd=REPO, env=env,  # noqa: S603
                                stdout=subprocess.DEVNULL, stderr=open(self.tmp / config / "serve.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serving container of {endpoint} did not start: "
                                   f"{(self.tmp / config / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.05)
        port = int(port_file.read_text())
        self._procs[config] = (proc, port)
        return port

    def _download(self, container: dict[str, Any], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        source = container.get("ModelDataSource", {}).get("S3DataSource")
        uri = source["S3Uri"] if source else container["ModelDataUrl"]
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if source:  # uncompressed prefix
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    dest = target / obj["Key"][len(key):]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        else:
            data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                tar.extractall(target, filter="data")

    def _publish(self, endpoint: str, status: int) -> None:
        dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
        now = datetime.now(UTC)
        self.cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
            {"MetricName": name, "Dimensions": dims, "Value": float(value), "Unit": "Count", "Timestamp": now}
            for name, value in (("Invocations", 1), ("Invocation4XXErrors", 400 <= status < 500),
                                ("Invocation5XXErrors", status >= 500))])
