"""cdk-nag acknowledgments shared by several stacks, each with its reason.

cdk-nag 3 acknowledges each IAM5 finding separately (``AwsSolutions-IAM5[Action::s3:List*]``); the
grants CDK writes for a bucket (``grantRead``/``grantReadWrite``) always yield the same action
wildcards and an object-ARN wildcard, acknowledged here for the buckets actually granted."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

S3_GRANT_ACTION_WILDCARDS = ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")


def acknowledge_bucket_grants(scope: IConstruct, object_patterns: Iterable[str]) -> None:
    """``object_patterns``: nag-style object ARNs granted (``StorageStack.nag_objects(kind)``)."""
    acks = [
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Action::{action}]",
            reason="CDK bucket grant: the wildcard covers the object/multipart variants of one verb "
            "(GetObject, GetObjectVersion, ...) and is scoped to TLM's own bucket ARNs.",
        )
        for action in S3_GRANT_ACTION_WILDCARDS
    ]
    acks += [
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::{pattern}]",
            reason="Objects are content-addressed (sha256/<hex>) or per-job keys, unknown at deploy time; "
            "the grant is limited to this one bucket (and prefix where given).",
        )
        for pattern in object_patterns
    ]
    Validations.of(scope).acknowledge(*acks)
