"""powertools Logger / Tracer / Metrics, one instance each (service name from POWERTOOLS_SERVICE_NAME).

The tracer is lazy: building a powertools ``Tracer`` imports the X-Ray SDK (~0.1 s) even when
tracing is off, and every Lambda handler module reaches this one at import time. ``tracer``
builds the real ``Tracer`` on first use; ``capture_lambda_handler`` decides on the first call:
a pass-through when powertools would disable tracing anyway (outside Lambda, SAM local,
``POWERTOOLS_TRACE_DISABLED``), else the real decorator (in Lambda with tracing on, the SDK
then loads during the first invocation instead of at import: moved, not saved).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tlm")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TLM")


class LazyTracer:
    """A powertools Tracer built on first use (see the module docstring)."""

    def __init__(self) -> None:
        self._real: Tracer | None = None
        self._lock = threading.Lock()

    @property
    def real(self) -> Tracer:
        if self._real is None:
            with self._lock:
                if self._real is None:
                    self._real = Tracer()
        return self._real

    def capture_lambda_handler(
        self, lambda_handler: Any = None, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Any:
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error
            )
        chosen: list[Any] = []

        @functools.wraps(lambda_handler)
        def call(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if not chosen:
                chosen.append(
                    lambda_handler
                    if Tracer._is_tracer_disabled()
                    else self.real.capture_lambda_handler(
                        lambda_handler, capture_response=capture_response, capture_error=capture_error
                    )
                )
            return chosen[0](event, context, *args, **kwargs)

        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


logger = Logger()
tracer = LazyTracer()
metrics = Metrics()
