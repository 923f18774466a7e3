"""One event-store contract, run against every adapter (``[sqlite]``, ``[dynamodb]``)."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

import pytest

from domain.errors import ConcurrencyConflict, Invalid
from domain.events import EventMetadata
from domain.records import NewEvent

pytestmark = pytest.mark.contract

THREADS = 8
# appends per racing thread: SQLite takes 1,600 in a few seconds; moto serves one request at a time,
# so 400 winners (and their losers) prove the same there at a quarter of the cost (~36 s -> ~9 s)
APPENDS_PER_THREAD = {"sqlite": 200, "dynamodb": 50}


def race(writer) -> None:
    """Run ``writer(t)`` on THREADS threads at once and wait for all."""
    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def ev(n: int, **data: object) -> NewEvent:
    return NewEvent(type="test.happened", data={"n": n, **data}, metadata=EventMetadata(actor="tester"))


def ns(events) -> list[int]:
    return [e.data["n"] for e in events]


def test_append_and_read_back_in_order(event_store):
    r = event_store.append("s-1", [ev(1), ev(2)], 0)
    assert (r.first_version, r.last_version, r.duplicate) == (1, 2, False)
    got = event_store.read("s-1")
    assert [e.version for e in got] == [1, 2]
    assert [e.data["n"] for e in got] == [1, 2]
    assert got[0].metadata.actor == "tester"
    assert event_store.version("s-1") == 2
    assert event_store.version("nope") == 0


def test_wrong_expected_version_is_a_conflict(event_store):
    event_store.append("s-1", [ev(1)], 0)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(2)], 0)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(2)], 5)
    assert [e.data["n"] for e in event_store.read("s-1")] == [1]


def test_expected_version_ahead_of_the_stream_never_leaves_a_gap(event_store):
    # Given a stream at version 2
    event_store.append("s-1", [ev(1), ev(2)], 0)
    # When writers claim versions the stream has not reached, one event or several
    for expected in (3, 7):
        with pytest.raises(ConcurrencyConflict):
            event_store.append("s-1", [ev(9)], expected)
        with pytest.raises(ConcurrencyConflict):
            event_store.append("s-1", [ev(9), ev(10)], expected)
    # Then nothing was written and the next append continues at 3
    assert event_store.version("s-1") == 2
    assert event_store.append("s-1", [ev(3)], 2).first_version == 3
    assert [e.version for e in event_store.read("s-1")] == [1, 2, 3]


def test_multi_event_append_is_all_or_nothing(event_store):
    # Given a stream at version 2
    event_store.append("s-1", [ev(1), ev(2)], 0)
    # When a batch of five written from version 0 collides with versions 1-2 (midway: 3-5 free)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(10 + i) for i in range(5)], 0)
    # and a batch from version 1 collides on its first item only
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(20 + i) for i in range(3)], 1)
    # and a batch whose third event cannot be encoded fails before anything lands
    with pytest.raises((TypeError, ValueError)):
        event_store.append("s-1", [ev(30), ev(31), ev(32, bad={1, 2}), ev(33)], 2)
    # Then none of their events is stored, and other streams saw nothing either
    assert ns(event_store.read("s-1")) == [1, 2]
    assert event_store.version("s-1") == 2
    # And a good batch still goes in whole
    r = event_store.append("s-1", [ev(3), ev(4), ev(5)], 2)
    assert (r.first_version, r.last_version) == (3, 5)
    assert ns(event_store.read("s-1")) == [1, 2, 3, 4, 5]


def test_empty_and_negative_appends_are_invalid(event_store):
    with pytest.raises(Invalid):
        event_store.append("s-1", [], 0)
    with pytest.raises(Invalid):
        event_store.append("s-1", [ev(1)], -1)
    assert event_store.version("s-1") == 0


@pytest.mark.slow  # on moto: 400 winners + their losers, each a few requests to a serial server
def test_racing_writers_lose_nothing_and_every_loser_is_told(event_store, request):
    # Given 8 threads that each append 200 (moto: 50) events to ONE stream, retrying on conflict
    per_thread = APPENDS_PER_THREAD[request.node.callspec.params["event_store"]]
    won: list[tuple[int, int, int]] = []  # (thread, attempt, version it was told it got)
    lost: list[tuple[int, int]] = []  # (thread, attempt) told ConcurrencyConflict
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def writer(t: int) -> None:
        try:
            start.wait()
            attempt, done = 0, 0
            while done < per_thread:
                attempt += 1
                began = time.perf_counter()
                version = event_store.version("race")
                try:
                    r = event_store.append("race", [ev(attempt, t=t, i=done)], version)
                except ConcurrencyConflict:
                    with lock:
                        lost.append((t, attempt))
                    # jittered backoff scaled to the attempt time, as real clients do: without it
                    # moto (one request at a time) spends most of its time on doomed attempts
                    time.sleep(random.uniform(0, THREADS * (time.perf_counter() - began)))
                    continue
                with lock:
                    won.append((t, attempt, r.first_version))
                done += 1
        except BaseException as exc:  # anything but a conflict is a failure of the store
            with lock:
                errors.append(exc)

    # When they race
    race(writer)

    # Then no thread saw anything but success or ConcurrencyConflict
    assert errors == []
    total = THREADS * per_thread
    stored = event_store.read("race")
    # versions are gapless 1..N and nothing was lost or duplicated
    assert [e.version for e in stored] == list(range(1, total + 1))
    assert event_store.version("race") == total
    stored_attempts = [(e.data["t"], e.data["n"]) for e in stored]
    assert len(set(stored_attempts)) == total
    assert sorted((e.data["t"], e.data["i"]) for e in stored) == [
        (t, i) for t in range(THREADS) for i in range(per_thread)
    ]
    # every winner was told the version its event really has
    assert sorted(won, key=lambda w: w[2]) == [(e.data["t"], e.data["n"], e.version) for e in stored]
    # and every attempt that is not in the log was told it lost (and is really absent)
    assert set(stored_attempts).isdisjoint(lost)
    assert len(won) == total
    assert lost, "the writers never collided: the race did not happen"


def test_large_event_round_trip(event_store):
    # Given an event whose payload is over 400 KB (DynamoDB's item limit)
    blob = "载" * 150_000 + "x" * 60_000  # 450_000 + 60_000 bytes of UTF-8
    big = ev(1, blob=blob)
    # When appended between small ones, alone and in a batch
    event_store.append("big", [ev(0)], 0)
    event_store.append("big", [big], 1)
    event_store.append("big", [ev(2), big], 2)
    # Then it reads back intact
    got = event_store.read("big")
    assert [e.version for e in got] == [1, 2, 3, 4]
    assert got[1].data["blob"] == blob and got[3].data["blob"] == blob
    assert got[1].data == big.data
    _assert_offloaded_where_the_store_needs_it(event_store, "big", 2)


def _assert_offloaded_where_the_store_needs_it(store, stream_id: str, version: int) -> None:
    """On DynamoDB the payload must live in S3 and the item keep only its pointer."""
    from runtime.adapters.dynamodb.event_store import DynamoDbEventStore

    if not isinstance(store, DynamoDbEventStore):
        return
    from runtime.adapters.dynamodb import keys

    item = store.dynamodb.get_item(
        TableName=store.table,
        Key={keys.EVENTS_PK: {"S": stream_id}, keys.EVENTS_SK: {"N": str(version)}},
        ConsistentRead=True,
    )["Item"]
    assert "data" not in item
    ref = item["data_ref"]["S"]
    assert ref.startswith(keys.PAYLOAD_PREFIX)
    head = store.s3.head_object(Bucket=store.bucket, Key=ref)
    assert head["ContentLength"] > 400_000


def test_read_as_of_a_version_and_a_time(event_store):
    # Given three events, with a moment T between the second and the third
    event_store.append("s-1", [ev(1), ev(2)], 0)
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    event_store.append("s-1", [ev(3)], 2)
    # Then reading as of version 2, or as of T, shows the first two only
    assert ns(event_store.read("s-1", until_version=2)) == [1, 2]
    assert ns(event_store.read("s-1", until_time=moment)) == [1, 2]
    # and bounds combine with after_version
    assert ns(event_store.read("s-1", after_version=1, until_version=2)) == [2]
    assert ns(event_store.read("s-1", after_version=1)) == [2, 3]
    assert event_store.read("s-1", until_time=datetime(2000, 1, 1, tzinfo=UTC)) == []
    assert ns(event_store.read("s-1", until_time=datetime.now(UTC))) == [1, 2, 3]
    assert all(e.recorded_at.tzinfo is not None for e in event_store.read("s-1"))


def test_idempotency_key_appends_once(event_store):
    # Given an append under a command key
    first = event_store.append("s-1", [ev(1), ev(2)], 0, idempotency_key="cmd-1")
    assert (first.first_version, first.last_version, first.duplicate) == (1, 2, False)
    # When the same command is retried, even with a stale expected version
    again = event_store.append("s-1", [ev(1), ev(2)], 0, idempotency_key="cmd-1")
    # Then nothing more is appended and the first result comes back flagged duplicate
    assert (again.stream_id, again.first_version, again.last_version, again.duplicate) == ("s-1", 1, 2, True)
    assert ns(event_store.read("s-1")) == [1, 2]
    # And other keys still append, single events too
    third = event_store.append("s-1", [ev(3)], 2, idempotency_key="cmd-2")
    assert (third.first_version, third.duplicate) == (3, False)
    assert event_store.append("s-1", [ev(3)], 3, idempotency_key="cmd-2").duplicate is True
    assert ns(event_store.read("s-1")) == [1, 2, 3]


def test_idempotency_key_that_fails_is_not_consumed(event_store):
    # Given a conflicting append under a key
    event_store.append("s-1", [ev(1)], 0)
    with pytest.raises(ConcurrencyConflict):
        event_store.append("s-1", [ev(2)], 0, idempotency_key="cmd-9")
    # Then the key is still free for the corrected retry
    r = event_store.append("s-1", [ev(2)], 1, idempotency_key="cmd-9")
    assert (r.first_version, r.duplicate) == (2, False)


def test_racing_retries_of_one_command_append_once(event_store):
    # Given 8 threads sending the same command (same key) at once
    results, errors = [], []
    start = threading.Barrier(THREADS)

    def send() -> None:
        try:
            start.wait()
            results.append(event_store.append("s-1", [ev(1), ev(2)], 0, idempotency_key="cmd-x"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # Then exactly one appended; every other got the same result flagged duplicate
    assert errors == []
    assert sorted(r.duplicate for r in results) == [False] + [True] * (THREADS - 1)
    assert {(r.first_version, r.last_version) for r in results} == {(1, 2)}
    assert ns(event_store.read("s-1")) == [1, 2]


def test_iter_all_gives_every_stream_in_version_order(event_store):
    event_store.append("a", [ev(1), ev(2)], 0)
    event_store.append("b", [ev(10)], 0)
    event_store.append("a", [ev(3)], 2)
    event_store.append("b", [ev(11)], 1, idempotency_key="k")
    got = list(event_store.iter_all())
    per_stream: dict[str, list[int]] = {}
    for e in got:
        per_stream.setdefault(e.stream_id, []).append(e.version)
    assert per_stream == {"a": [1, 2, 3], "b": [1, 2]}
    assert sorted(ns(got)) == [1, 2, 3, 10, 11]


def test_a_retried_command_gets_its_first_answer_even_when_decide_would_now_refuse(event_store):
    # Given a command that creates a project, run once with an idempotency key
    from domain.library import projects as p
    from runtime.services.commands import Caller, execute

    cmd = p.CreateProject(project_id="p9", name="组", owner="alice")
    first = execute(event_store, p.PROJECTS, "p9", cmd, Caller("alice"), idempotency_key="create-p9")
    assert first.result is not None and not first.result.duplicate
    assert event_store.idempotent_result("create-p9").last_version == 1
    assert event_store.idempotent_result("unused") is None
    # When the client retries it (decide alone would now say "project exists")
    again = execute(event_store, p.PROJECTS, "p9", cmd, Caller("alice"), idempotency_key="create-p9")
    # Then it gets the first result and nothing more is appended
    assert again.result is not None and again.result.duplicate and again.events == []
    assert again.state.project_id == "p9" and event_store.version("project-p9") == 1


# ---------------------------------------------------------------- append_batch (several streams)


def test_batch_appends_to_several_streams_in_one_write(event_store):
    from runtime.ports import StreamAppend

    # Given one stream at version 1 and two new ones
    event_store.append("a", [ev(1)], 0)
    # When one batch appends to all three
    results = event_store.append_batch(
        [StreamAppend("b", [ev(10), ev(11)], 0), StreamAppend("a", [ev(2)], 1), StreamAppend("c", [ev(20)], 0)]
    )
    # Then each got its events, and the results come in the order asked
    assert [(r.stream_id, r.first_version, r.last_version, r.duplicate) for r in results] == [
        ("b", 1, 2, False),
        ("a", 2, 2, False),
        ("c", 1, 1, False),
    ]
    assert (ns(event_store.read("a")), ns(event_store.read("b")), ns(event_store.read("c"))) == ([1, 2], [10, 11], [20])


def test_one_streams_conflict_rejects_the_whole_batch(event_store):
    from runtime.ports import StreamAppend

    # Given streams a (version 1) and b (version 2)
    event_store.append("a", [ev(1)], 0)
    event_store.append("b", [ev(1), ev(2)], 0)
    # When a batch is right about a and c but wrong about b (behind it, then ahead of it)
    for wrong in (1, 3):
        with pytest.raises(ConcurrencyConflict) as e:
            event_store.append_batch(
                [StreamAppend("a", [ev(2)], 1), StreamAppend("b", [ev(3)], wrong), StreamAppend("c", [ev(1)], 0)]
            )
        assert e.value.stream_id == "b"
    # and a batch whose last event cannot be encoded
    with pytest.raises((TypeError, ValueError)):
        event_store.append_batch([StreamAppend("a", [ev(2)], 1), StreamAppend("c", [ev(1), ev(2, bad={1})], 0)])
    # Then none of the batches wrote anything anywhere
    assert (ns(event_store.read("a")), ns(event_store.read("b")), event_store.version("c")) == ([1], [1, 2], 0)
    # And the corrected batch goes in whole
    event_store.append_batch([StreamAppend("a", [ev(2)], 1), StreamAppend("b", [ev(3)], 2)])
    assert (event_store.version("a"), event_store.version("b")) == (2, 3)


def test_batch_input_rules_and_the_item_limit(event_store):
    from runtime.ports import MAX_BATCH_ITEMS, StreamAppend

    event_store.append("x", [ev(0)], 0)
    event_store.append("y", [ev(0)], 0)
    half = MAX_BATCH_ITEMS // 2
    # When a batch holds one item too many (events plus the idempotency key)
    with pytest.raises(Invalid) as e:
        event_store.append_batch(
            [StreamAppend("x", [ev(i) for i in range(half)], 1), StreamAppend("y", [ev(i) for i in range(half)], 1)],
            idempotency_key="too-big",
        )
    # Then it is refused naming the limit, and nothing was written (nor the key consumed)
    assert e.value.field == "appends" and str(MAX_BATCH_ITEMS) in e.value.message
    assert (event_store.version("x"), event_store.version("y")) == (1, 1)
    assert event_store.idempotent_result("too-big") is None
    # And the same batch at exactly the limit goes in whole
    results = event_store.append_batch(
        [StreamAppend("x", [ev(i) for i in range(half)], 1), StreamAppend("y", [ev(i) for i in range(half)], 1)]
    )
    assert [(r.first_version, r.last_version) for r in results] == [(2, half + 1), (2, half + 1)]
    # Other bad input is refused naming the part
    for bad, field in (
        ([], "appends"),
        ([StreamAppend("x", [], half + 1)], "appends[0].events"),
        ([StreamAppend("z", [ev(1)], 0), StreamAppend("x", [ev(1)], -1)], "appends[1].expected_version"),
        ([StreamAppend("z", [ev(1)], 0), StreamAppend("z", [ev(2)], 1)], "appends[1].stream_id"),
    ):
        with pytest.raises(Invalid) as e:
            event_store.append_batch(bad)
        assert e.value.field == field
    assert event_store.version("z") == 0


def test_batch_idempotency_key_appends_once(event_store):
    from runtime.ports import StreamAppend

    batch = [StreamAppend("a", [ev(1)], 0), StreamAppend("b", [ev(1), ev(2)], 0)]
    first = event_store.append_batch(batch, idempotency_key="k-batch")
    again = event_store.append_batch(batch, idempotency_key="k-batch")
    assert [r.duplicate for r in first] == [False, False]
    assert [(r.stream_id, r.first_version, r.last_version, r.duplicate) for r in again] == [
        ("a", 1, 1, True),
        ("b", 1, 2, True),
    ]
    assert (event_store.version("a"), event_store.version("b")) == (1, 2)
    assert event_store.idempotent_result("k-batch").stream_id == "a"


def test_big_payloads_in_a_batch_round_trip(event_store):
    from runtime.ports import StreamAppend

    blob = "载" * 150_000  # 450_000 bytes of UTF-8: over DynamoDB's item limit
    event_store.append_batch([StreamAppend("big-a", [ev(1, blob=blob)], 0), StreamAppend("big-b", [ev(2)], 0)])
    assert event_store.read("big-a")[0].data["blob"] == blob
    _assert_offloaded_where_the_store_needs_it(event_store, "big-a", 1)


BATCH_WRITERS = 6  # batches over both streams; two more writers append to "left" alone
BATCHES_PER_WRITER = 8


@pytest.mark.slow  # on moto: ~6 s (a serial server, every conflict a few more requests)
def test_racing_batches_over_two_streams_lose_nothing_and_split_nothing(event_store):
    from runtime.ports import StreamAppend

    # Given 6 writers each appending 8 batches to BOTH "left" and "right" (half of them naming
    # the streams in the other order), and 2 writers appending single events to "left", all retrying
    won: list[tuple[int, int, str, int]] = []  # (writer, i, stream, version it was told)
    errors: list[BaseException] = []
    collided = threading.Event()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def writer(t: int) -> None:
        try:
            start.wait()
            streams = ["left", "right"] if t % 2 else ["right", "left"]
            if t >= BATCH_WRITERS:
                streams = ["left"]
            for i in range(BATCHES_PER_WRITER):
                while True:
                    began = time.perf_counter()
                    parts = [StreamAppend(s, [ev(i, t=t, i=i)], event_store.version(s)) for s in streams]
                    try:
                        if len(parts) == 1:
                            results = [
                                event_store.append(parts[0].stream_id, parts[0].events, parts[0].expected_version)
                            ]
                        else:
                            results = event_store.append_batch(parts)
                    except ConcurrencyConflict:
                        collided.set()
                        time.sleep(random.uniform(0, THREADS * (time.perf_counter() - began)))
                        continue
                    with lock:
                        won.extend((t, i, r.stream_id, r.first_version) for r in results)
                    break
        except BaseException as exc:
            with lock:
                errors.append(exc)

    # When they race
    race(writer)
    assert errors == []
    left, right = event_store.read("left"), event_store.read("right")
    # Then both streams are gapless and hold every batch exactly once
    assert [e.version for e in left] == list(range(1, THREADS * BATCHES_PER_WRITER + 1))
    assert [e.version for e in right] == list(range(1, BATCH_WRITERS * BATCHES_PER_WRITER + 1))
    everything = sorted((t, i) for t in range(THREADS) for i in range(BATCHES_PER_WRITER))
    assert sorted((e.data["t"], e.data["i"]) for e in left) == everything
    # no batch is split: each one that is in "right" is in "left" too, and vice versa
    batched = sorted((t, i) for t in range(BATCH_WRITERS) for i in range(BATCHES_PER_WRITER))
    assert sorted((e.data["t"], e.data["i"]) for e in right) == batched
    # every winner was told the versions its events really have
    stored = {(e.stream_id, e.version): (e.data["t"], e.data["i"]) for e in left + right}
    assert len(won) == len(stored) and all(stored[(s, v)] == (t, i) for t, i, s, v in won)
    assert collided.is_set(), "the writers never collided: the race did not happen"
