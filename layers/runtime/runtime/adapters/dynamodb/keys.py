"""DynamoDB table key names and item kinds: the single source that the adapters, the projector
and the CDK stacks (infra/) import. Change a name here and every user follows."""

from __future__ import annotations

# events table: one item per event, partition = stream, sort = version (number)
EVENTS_PK = "stream_id"
EVENTS_SK = "version"
# idempotency keys share the events table so that key + events commit in one transaction
IDEMPOTENCY_PREFIX = "idem#"
KIND = "kind"  # "event" | "idempotency": the projector's stream filter keeps kind == event
KIND_EVENT = "event"
KIND_IDEMPOTENCY = "idempotency"

# views table: partition = view name, sort = row key
VIEWS_PK = "view"
VIEWS_SK = "key"
# partitioned views (runtime.views.layout.PARTITIONS, e.g. models by project): the item under
# (view, row key) is a locator naming the partition; the row and its search postings live under
# partition key "<view>@<partition>", rows at sort key "r#<row key>", postings at
# "t#<term>#<row key>" (terms never contain '#': the analyzer emits [0-9a-z]+ or CJK runs)
VIEWS_PARTITION_SEP = "@"
VIEWS_PART_ATTR = "part"
VIEWS_ROW_PREFIX = "r#"
VIEWS_TERM_PREFIX = "t#"

# powertools idempotency table (API Idempotency-Key header)
IDEMPOTENCY_TABLE_PK = "id"
IDEMPOTENCY_TABLE_TTL = "expiration"

# offloaded payloads live in the blobs bucket under this prefix, content-addressed
PAYLOAD_PREFIX = "event-payloads/sha256/"

# blobs bucket layout (S3 and local files alike): the upload trigger listens on the staging prefix
STAGING_PREFIX = "uploads/"  # joined multipart uploads, verified by functions/triggers/s3_upload.py
BLOB_PREFIX = "sha256/"  # verified, content-addressed blobs
