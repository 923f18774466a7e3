"""Storage: the event log (DynamoDB + stream), read views, the API idempotency table and the buckets.

Key names come from ``runtime.adapters.dynamodb.keys`` (the adapters read the same module)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runtime.adapters.dynamodb import keys

STAGING_PREFIX = keys.STAGING_PREFIX  # joined uploads land here; the upload trigger verifies them
BUCKET_KINDS = ("blobs", "artifacts")
# Job scratch space (both data buckets; runtime.services.artifacts / compiles / the SageMaker
# runner): channels are server-side copies of library files for one run, outputs are ingested
# into the library as verified blobs by the workflow's register step, so both expire.
CHANNELS_PREFIX, CHANNEL_DAYS = "channels/", 7
JOB_OUTPUT_PREFIXES, JOB_OUTPUT_DAYS = ("jobs/", "trainings/", "artifacts/compiles/"), 30
# The browser UI on AWS (TlmWeb's CloudFront origin) PUTs upload parts to presigned URLs and follows
# download redirects to them: CORS for those origins. The distribution's own domain is not known here
# (it would make a dependency cycle), hence the pattern; a presigned URL is authorized by its signature,
# CORS only lets the UI's script read S3's answer. A custom domain for the UI is added here.
WEB_ORIGINS = ("https://*.cloudfront.net",)


def bucket_name(prefix: str, kind: str, suffix: str = "") -> str:
    """Deterministic data-bucket names (``tlm-blobs-<account>-<region>[-<suffix>]``): other stacks
    address the buckets by name, not through CloudFormation exports, and their IAM statements stay
    readable. The buckets are retained on teardown (they hold the data); a fresh deployment next
    to retained buckets picks a new ``suffix`` (context ``tlm:bucket-suffix``, which
    ``make deploy`` chooses when the names are taken) instead of colliding with them."""
    return f"{prefix.lower()}-{kind}-{Aws.ACCOUNT_ID}-{Aws.REGION}" + (f"-{suffix}" if suffix else "")


def nag_bucket_name(prefix: str, kind: str, suffix: str = "") -> str:
    return f"{prefix.lower()}-{kind}-<AWS::AccountId>-<AWS::Region>" + (f"-{suffix}" if suffix else "")


def clean_suffix(value: object) -> str:
    text = str(value or "")
    if len(text) > 8 or not all(c.isdigit() or "a" <= c <= "z" for c in text):
        raise ValueError(f"tlm:bucket-suffix must be at most 8 characters [a-z0-9], not {text!r}")
    return text


class StorageStack(Stack):
    def __init__(self, scope: Construct, id: str, *, prefix: str = "Tlm", **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self.prefix = prefix
        self.suffix = clean_suffix(self.node.try_get_context("tlm:bucket-suffix"))
        pitr = ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)
        self.events_table = ddb.Table(
            self,
            "Events",
            partition_key=ddb.Attribute(name=keys.EVENTS_PK, type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name=keys.EVENTS_SK, type=ddb.AttributeType.NUMBER),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            stream=ddb.StreamViewType.NEW_IMAGE,
            point_in_time_recovery_specification=pitr,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.views_table = ddb.Table(
            self,
            "Views",
            partition_key=ddb.Attribute(name=keys.VIEWS_PK, type=ddb.AttributeType.STRING),
            sort_key=ddb.Attribute(name=keys.VIEWS_SK, type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=pitr,
            removal_policy=RemovalPolicy.RETAIN,  # views can be rebuilt from the log, but not for free
        )
        self.idempotency_table = ddb.Table(
            self,
            "Idempotency",
            partition_key=ddb.Attribute(name=keys.IDEMPOTENCY_TABLE_PK, type=ddb.AttributeType.STRING),
            time_to_live_attribute=keys.IDEMPOTENCY_TABLE_TTL,
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=pitr,
            removal_policy=RemovalPolicy.DESTROY,  # short-lived keys only
        )

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logging cannot target SSE-KMS
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.access_logs_bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the server-access-log target bucket; logging it into itself would loop.",
            )
        )
        self.blobs_bucket = self._data_bucket("Blobs", "blobs", versioned=False)
        self.artifacts_bucket = self._data_bucket("Artifacts", "artifacts", versioned=True)

    def _data_bucket(self, id: str, kind: str, *, versioned: bool) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7)),
            s3.LifecycleRule(
                id="JobChannels",
                prefix=CHANNELS_PREFIX,
                expiration=Duration.days(CHANNEL_DAYS),
                noncurrent_version_expiration=Duration.days(1) if versioned else None,
            ),
            *(
                s3.LifecycleRule(
                    id=f"JobOutputs{i}",
                    prefix=p,
                    expiration=Duration.days(JOB_OUTPUT_DAYS),
                    noncurrent_version_expiration=Duration.days(1) if versioned else None,
                )
                for i, p in enumerate(JOB_OUTPUT_PREFIXES)
            ),
        ]
        if versioned:
            rules.append(s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)))
        else:  # staged uploads that never completed verification
            rules.append(
                s3.LifecycleRule(
                    prefix=STAGING_PREFIX,
                    expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            )
        return s3.Bucket(
            self,
            id,
            bucket_name=bucket_name(self.prefix, kind, self.suffix),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=versioned,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{kind}/",
            lifecycle_rules=rules,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(WEB_ORIGINS),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3600,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def bucket(self, scope: Construct, kind: str) -> s3.IBucket:
        """The ``kind`` data bucket as seen from another stack: by name, no export; ``scope``'s stack
        is made to deploy after this one."""
        Stack.of(scope).add_stack_dependency(self)
        return s3.Bucket.from_bucket_name(
            scope, f"{kind.capitalize()}Bucket", bucket_name(self.prefix, kind, self.suffix)
        )

    def nag_objects(self, kind: str, pattern: str = "*") -> str:
        """A bucket's objects as cdk-nag prints them in IAM5 findings."""
        return f"arn:<AWS::Partition>:s3:::{nag_bucket_name(self.prefix, kind, self.suffix)}/{pattern}"

    def data_environment(self) -> dict[str, str]:
        """TLM_* settings (runtime/settings.py) that every function reads."""
        return {
            "TLM_REGION": Aws.REGION,
            "TLM_EVENTS_TABLE": self.events_table.table_name,
            "TLM_VIEWS_TABLE": self.views_table.table_name,
            "TLM_IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
            "TLM_BLOBS_BUCKET": bucket_name(self.prefix, "blobs", self.suffix),
            "TLM_ARTIFACTS_BUCKET": bucket_name(self.prefix, "artifacts", self.suffix),
        }
