"""S3 ObjectCreated trigger on the blobs bucket's ``uploads/`` prefix: an upload's parts were
joined; verify size + sha256, promote the blob to ``sha256/<hex>`` and append FileAdded (or
UploadRejected). Locally the server calls this same handler in-process after completion.

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


def process(event: dict[str, Any], container: Any = None) -> list[dict[str, Any]]:
    """Verify every joined upload named by the event; ``container`` defaults to the process's
    (the local platform passes its own)."""
    from runtime.adapters.fs.blob_rules import upload_id_from_staging_key
    from runtime.bootstrap import get_container

    results = []
    container = container if container is not None else get_container()
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = unquote_plus(record["s3"]["object"]["key"])
        if not key.startswith("uploads/"):
            continue
        upload_id = upload_id_from_staging_key(key)
        result = container.library.verify_upload(upload_id)
        logger.info("upload verified", extra={"upload_id": upload_id, "state": result.get("state")})
        results.append(result)
    return results


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"results": process(event)}
