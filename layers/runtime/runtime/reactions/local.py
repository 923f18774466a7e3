"""The local subscription: one tail of the SQLite log that first brings the views up to date
(``LocalProjector``) and then runs the reactions (``LocalReactor``).

``LocalReactor`` keeps one tracking row per reaction (``reaction:<name>`` in ``tracking``, next to
the views' ``view:<name>`` rows). A reaction runs *outside* any log transaction (it appends and
starts runs itself); its tracking row moves past an event only after the reaction returned, so a
crash in between means the event is handled again after the restart (at least once; reactions
are idempotent). A reaction that raises stays at that event - it is retried at the next catch-up,
never skipped - and the failure is logged and kept in ``failures``; the other reactions go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from domain.projection import Projection
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.adapters.sqlite.views import LocalProjector, SqliteViewStore
from runtime.reactions.registry import Reaction, ReactionRegistry

log = logging.getLogger(__name__)


class LocalReactor:
    def __init__(
        self,
        db: Database,
        store: SqliteEventStore,
        registry: ReactionRegistry | Callable[[], ReactionRegistry],
        *,
        batch_size: int = 200,
    ) -> None:
        self.db = db
        self.store = store
        self._registry = registry
        self.batch_size = batch_size
        self.failures: dict[str, tuple[int, str]] = {}  # reaction -> (position, error) while stuck
        self._lock = threading.Lock()  # one catch-up at a time in this process

    @property
    def registry(self) -> ReactionRegistry:
        return self._registry if isinstance(self._registry, ReactionRegistry) else self._registry()

    @staticmethod
    def tracking_name(reaction: str) -> str:
        return f"reaction:{reaction}"

    def positions(self) -> dict[str, int]:
        found = dict(self.db.connection().execute("SELECT projector, position FROM tracking").fetchall())
        return {r.name: int(found.get(self.tracking_name(r.name), 0)) for r in self.registry.all()}

    def _advance(self, reaction: str, position: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO tracking (projector, position) VALUES (?, ?) ON CONFLICT (projector)"
                " DO UPDATE SET position = MAX(position, excluded.position)",
                (self.tracking_name(reaction), position),
            )

    def catch_up(self) -> int:
        """Run every reaction over the events after its position; returns reactions run."""
        with self._lock:
            ran = 0
            for reaction, position in zip(self.registry.all(), self.positions().values(), strict=True):
                ran += self._catch_up(reaction, position)
            return ran

    def _catch_up(self, reaction: Reaction, position: int) -> int:
        ran = 0
        while batch := self.store.read_all(after_position=position, limit=self.batch_size):
            for event in batch:
                assert event.position is not None  # noqa: S101 - SQLite always has positions
                if reaction.wants(event):
                    if position < event.position - 1:  # skipped events first: a restart starts here
                        self._advance(reaction.name, event.position - 1)
                    try:
                        reaction.handle(event)
                    except Exception as exc:
                        log.exception("reaction %s failed at log position %s", reaction.name, event.position)
                        self.failures[reaction.name] = (event.position, repr(exc))
                        return ran
                    self.failures.pop(reaction.name, None)
                    ran += 1
                    self._advance(reaction.name, event.position)
                position = event.position
            self._advance(reaction.name, position)
        return ran


class LocalSubscription(LocalProjector):
    """The projector whose every catch-up (after a write, in the background thread, at startup)
    also runs the reactions: what ``Container.projector`` is locally."""

    def __init__(
        self, db: Database, views: SqliteViewStore, projections: Sequence[Projection], reactor: LocalReactor
    ) -> None:
        super().__init__(db, views, projections)
        self.reactor = reactor

    def catch_up(self, *, max_events: int | None = None) -> int:
        """Views first (raises ProjectionFailed as the projector does), then the reactions
        (their failures are logged and retried, never raised into the write that called this)."""
        n = super().catch_up(max_events=max_events)
        self.reactor.catch_up()
        return n
