"""powertools Logger / Tracer / Metrics, one instance each (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tlm")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TLM")

logger = Logger()
tracer = Tracer()  # powertools disables itself outside Lambda
metrics = Metrics()
