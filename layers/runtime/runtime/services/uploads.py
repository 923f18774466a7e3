"""Upload verification: a joined multipart upload (staged at ``uploads/<upload id>``) is checked
for size and sha256, then promoted to its content address and recorded as the model's file, or
recorded as rejected (``LibraryService.verify_upload``). On AWS the S3 ObjectCreated trigger
(``functions.triggers.s3_upload``) only parses the notification and hands each object key here;
locally the library calls ``verify_upload_id`` in-process once the parts are joined."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.adapters.dynamodb.keys import STAGING_PREFIX
from runtime.adapters.fs.blob_rules import upload_id_from_staging_key
from runtime.observability import logger

if TYPE_CHECKING:
    from runtime.services.library import LibraryService


class UploadVerification:
    def __init__(self, library: LibraryService) -> None:
        self.library = library

    def verify_object(self, key: str) -> dict[str, Any] | None:
        """Verify the upload staged under object ``key``; None for a key outside the staging
        prefix (not an upload). Raises NotFound while the views do not know the upload yet (the
        trigger's retry comes back for it)."""
        if not key.startswith(STAGING_PREFIX):
            return None
        return self.verify_upload_id(upload_id_from_staging_key(key))

    def verify_upload_id(self, upload_id: str) -> dict[str, Any]:
        result = self.library.verify_upload(upload_id)
        logger.info("upload verified", extra={"upload_id": upload_id, "state": result.get("state")})
        return result
