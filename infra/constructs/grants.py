"""Exact IAM grants from an access table: which actions on which TLM table, which S3 verbs on which
key prefixes of which TLM bucket (``infra/stacks/workflow_access.py`` for the workflow steps and the
SageMaker role, ``infra/stacks/role_access.py`` for the API, projector, reactions and run-status
functions). The IAM audit (tests/infra/test_aws_chain.py) holds every role to its table both ways:
no call denied, no grant unused. Broad CDK grants (``grantReadWriteData``...) are not used for
these roles: they grant actions no handler calls.

Access table keys: ``events`` / ``views`` / ``idempotency`` (DynamoDB actions on that table),
``get`` / ``put`` / ``delete`` / ``parts`` / ``abort`` (``{bucket kind: key patterns}``) and
``list`` (``{bucket kind: s3:prefix patterns}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, Aws, Validations
from aws_cdk import aws_iam as iam

if TYPE_CHECKING:
    from infra.stacks.storage import StorageStack

TABLE_KEYS = ("events", "views", "idempotency")
_OBJECT_ACTIONS = {
    "get": "s3:GetObject",
    "put": "s3:PutObject",
    "delete": "s3:DeleteObject",
    "parts": "s3:ListMultipartUploadParts",
    "abort": "s3:AbortMultipartUpload",
}


def grant_tables(role: iam.IRole, storage: StorageStack, access: Mapping[str, Any]) -> None:
    """One statement per table named in ``access``, with exactly its actions."""
    tables = {
        "events": storage.events_table,
        "views": storage.views_table,
        "idempotency": storage.idempotency_table,
    }
    for key in TABLE_KEYS:
        actions = access.get(key)
        if actions:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=sorted(actions), resources=[tables[key].table_arn])
            )


def grant_objects(role: iam.IRole, storage: StorageStack, access: Mapping[str, Any]) -> None:
    """S3 statements for ``access``, each acknowledged for cdk-nag with the prefix it is limited to."""
    from infra.stacks.storage import bucket_name

    prefix = storage.prefix
    patterns: list[str] = []
    for verb, action in _OBJECT_ACTIONS.items():
        by_bucket: Mapping[str, tuple[str, ...]] = access.get(verb) or {}
        resources = [
            f"arn:{Aws.PARTITION}:s3:::{bucket_name(prefix, kind)}/{key}"
            for kind, keys_ in sorted(by_bucket.items())
            for key in keys_
        ]
        if resources:
            role.add_to_principal_policy(iam.PolicyStatement(actions=[action], resources=resources))
            patterns += [storage.nag_objects(kind, key) for kind, keys_ in by_bucket.items() for key in keys_]
    listing: Mapping[str, tuple[str, ...]] = access.get("list") or {}
    for kind, prefixes in sorted(listing.items()):
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket_name(prefix, kind)}"],
                conditions={"StringLike": {"s3:prefix": list(prefixes)}},
            )
        )
    Validations.of(role).acknowledge(
        *(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{pattern}]",
                reason="Objects under this prefix are named per run, job or content hash (unknown at deploy "
                "time); the grant is one action on one prefix of one TLM bucket.",
            )
            for pattern in sorted(set(patterns))
        )
    )


def grant_access(role: iam.IRole, storage: StorageStack, access: Mapping[str, Any]) -> None:
    grant_tables(role, storage, access)
    grant_objects(role, storage, access)
