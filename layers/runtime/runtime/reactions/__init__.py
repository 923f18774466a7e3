"""Reactions (process managers): what the platform does *because* an event was recorded.

A service appends one request (``training.requested``, ``compile.requested``) and returns; the
reactions registered for that event type start the run, record its outcome, settle owners.
They are driven by the same subscription as the projections: locally the log tail in the server
process (``runtime.reactions.local``), on AWS the DynamoDB Streams Lambda
(``functions.projector.reactions``, powertools ``BatchProcessor`` with partial batch failures).
Each reaction has its own tracking position (locally a ``reaction:<name>`` row in ``tracking``;
on AWS the last version handled per stream, ``runtime.reactions.streams``).

Delivery is at least once, so every reaction is idempotent: a run's id is derived from its
request (a redelivered ``training.requested`` finds its run instead of starting a second one),
and recording an outcome twice decides no new events.
"""

from runtime.reactions.registry import Reaction, ReactionRegistry

__all__ = ["Reaction", "ReactionRegistry"]
