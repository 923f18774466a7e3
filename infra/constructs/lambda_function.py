"""One TLM Lambda: code from a packaged ``functions/<group>`` bundle, the runtime layer, its own log
group and role (no AWS-managed policies), X-Ray tracing and powertools settings in the environment."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.packaging import LambdaAssets

POWERTOOLS_NAMESPACE = "TLM"


def python_runtime(version: str) -> lambda_.Runtime:
    """The Lambda runtime for the Python version the layer was built for (see infra/packaging.py)."""
    return getattr(lambda_.Runtime, "PYTHON_" + version.replace(".", "_"))


class RuntimeLayer(Construct):
    """The ``runtime`` + ``domain`` + core dependencies layer (one per stack, same asset)."""

    def __init__(self, scope: Construct, id: str, *, assets: LambdaAssets) -> None:
        super().__init__(scope, id)
        self.runtime = python_runtime(assets.python_version)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(assets.layer_dir)),
            compatible_runtimes=[self.runtime],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description=f"TLM runtime, domain, core deps ({assets.platform}, py{assets.python_version})",
        )


class SamplerLayer(Construct):
    """optuna (+ cmaes) for the search workflow's ask and watch steps, never in the core layer."""

    def __init__(self, scope: Construct, id: str, *, assets: LambdaAssets, runtime: lambda_.Runtime) -> None:
        super().__init__(scope, id)
        assert assets.sampler_layer_dir is not None
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(assets.sampler_layer_dir)),
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="TLM study sampler: optuna, cmaes (runtime.adapters.optuna_sampler)",
        )


class TlmFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        assets: LambdaAssets,
        layer: RuntimeLayer,
        group: str,
        handler: str,
        environment: dict[str, str],
        description: str,
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 1024,
        extra_layers: tuple[lambda_.ILayerVersion, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=layer.runtime,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(assets.function_dirs[group])),
            handler=handler,
            layers=[layer.layer, *extra_layers],
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout,
            memory_size=memory_size,
            description=description,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"tlm-{group}",
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "TLM_BACKEND": "aws",
                "TLM_JIEBA_CACHE_DIR": "/tmp/jieba",  # noqa: S108 - Lambda's only writable path
                **environment,
            },
        )
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason="The runtime follows the Python version the layer's compiled wheels were built for "
                "(infra/packaging.py LAMBDA_PYTHON); upgrade both together.",
            )
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource-level "
                "permissions (and dynamodb:ListStreams for a stream mapping, which lists stream ARNs only).",
            )
        )
