"""S3 ObjectCreated trigger on the blobs bucket's ``uploads/`` prefix: an upload's parts were
joined. The handler only parses the notification; the verification (size + sha256, promote the
blob to ``sha256/<hex>``, append FileAdded or UploadRejected) is the runtime's
``UploadVerification`` service, which the local platform calls in-process after completion.

A record whose upload the views do not know yet (projector lag) raises, so Lambda retries it;
a verification failure is an answer (recorded as an event), not an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.observability import logger, tracer


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """The S3 notification shape for one created object (what S3 sends, what the local server
    sends)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
            }
        ]
    }


def staged_keys(event: dict[str, Any]) -> list[str]:
    """The object keys an S3 notification says were created (URL-decoded, as S3 encodes them)."""
    return [
        unquote_plus(record["s3"]["object"]["key"])
        for record in event.get("Records", [])
        if str(record.get("eventName", "")).startswith("ObjectCreated")
    ]


def process(event: dict[str, Any], container: Any = None) -> list[dict[str, Any]]:
    """Verify every joined upload named by the event; ``container`` defaults to the process's."""
    from runtime.bootstrap import get_container

    uploads = (container if container is not None else get_container()).uploads
    return [r for key in staged_keys(event) if (r := uploads.verify_object(key)) is not None]


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"results": process(event)}
