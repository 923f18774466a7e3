"""Mutants that no test can kill because they do not change behaviour, each with the reason.

Keyed by (module, the line before, the line after), both stripped, as ``bench/mutation.py`` prints a
survivor; a sampled mutant listed here is left out of the score and the next one is tried. List a
mutant only when it is truly equivalent (same observable behaviour for every input), never one that
is merely hard to test.
"""

from __future__ import annotations

ES = "layers/runtime/runtime/adapters/sqlite/event_store.py"
CMD = "layers/runtime/runtime/services/commands.py"
ASL = "layers/runtime/runtime/workflows/asl.py"
RUN = "domain/workflows/run.py"
LITERAL = "status is a Literal field: pydantic answers the declared (interned) literal, so is and == agree"
LIB = "layers/runtime/runtime/services/library.py"
BLOB = "layers/runtime/runtime/adapters/fs/blob_store.py"
READ = "readinto gives the same bytes from a buffered or an unbuffered file"
TEMP = "only the temporary join file's random name gets longer or shorter"
LAST = "rsplit from the right with any maxsplit >= 1 ends with the same last part"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("domain/library/datasets.py", 'name = path.rsplit("/", 1)[-1]', 'name = path.rsplit("/", 2)[-1]'): LAST,
    ("domain/library/datasets.py",
     'splits[split_of(path)] = {"file": path.rsplit("/", 1)[-1], "path": path, **rec.get("report", {})}',
     'splits[split_of(path)] = {"file": path.rsplit("/", 2)[-1], "path": path, **rec.get("report", {})}'): LAST,
    ("domain/library/datasets.py", "count += 1", "count += 2"): "count is only tested for zero (no examples)",
    (ES, 'if any(col[1] == "batch" for col in conn.execute("PRAGMA table_info(idempotency)")):',
     'if any(col[ 2] == "batch" for col in conn.execute("PRAGMA table_info(idempotency)")):'):
        "then the ALTER always runs and fails with 'duplicate column', which is swallowed: same schema",
    (ES, "batch if len(results) > 1 else None),", "batch if len(results) > 0 else None),"):
        "a one-stream result stored as a one-item batch reads back as the same result",
    (ES, "if inserted != len(rows):", "if inserted < len(rows):"):
        "one INSERT statement writes at most len(rows) rows",
    (ES, "if n == 1:", "if n < 1:"): "the VALUES form of the guarded insert writes one row alike (n >= 1 always)",
    (ES, "def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:",
     "def read_all(self, *, after_position: int = -1, limit: int = 1000) -> list[RecordedEvent]:"):
        "positions start at 1 (AUTOINCREMENT): > -1 and > 0 select the same rows",
    (ES, "def iter_all(self, *, page: int = 1000) -> Iterator[RecordedEvent]:",
     "def iter_all(self, *, page: int = 1001) -> Iterator[RecordedEvent]:"):
        "the page size changes how many reads, not what is yielded",
    (ES, "batch if len(results) > 1 else None),", "batch if len(results) >= 1 else None),"):
        "a one-stream result stored as a one-item batch reads back as the same result",
    (LIB, 'if state.kind == "dataset":  # a redelivered trigger finishes a validation cut short',
     'if state.kind <= "dataset":  # a redelivered trigger finishes a validation cut short'):
        "kinds are 'model' and 'dataset' (RegisterModel refuses others), and 'model' > 'dataset'",
    ("domain/library/datasets.py", 'if i == 1 and line.startswith(b"\\xef\\xbb\\xbf"):',
     'if i <= 1 and line.startswith(b"\\xef\\xbb\\xbf"):'): "enumerate(..., start=1): i <= 1 exactly when i == 1",
    (CMD, "if results[0].duplicate:", "if results[ -1].duplicate:"):
        "a replayed key answers every stream's result with duplicate=True (both stores), so first and last agree",
    (CMD, "if len(appends) == 1:", "if len(appends) <= 1:"): "appends is never empty (no events returned earlier)",
    (CMD, "by_decision = {id(d): r for d, r in zip(writing, results, strict=True)}",
     "by_decision = {id(d): r for d, r in zip(writing, results, strict=False)}"):
        "append_batch answers one result per append on every store: the lengths always match",
    (CMD, "return [Outcome(st, [], first if i == 0 else None, v) for i, (st, v) in enumerate(loaded)]",
     "return [Outcome(st, [], first if i <= 0 else None, v) for i, (st, v) in enumerate(loaded)]"):
        "enumerate counts from 0: i <= 0 exactly when i == 0",
    (ASL, "def _machine(defn: m.Workflow, *, sync: bool, poll_seconds: int | None) -> dict[str, Any]:",
     "def _machine(defn: m.Workflow, /, sync: bool, poll_seconds: int | None) -> dict[str, Any]:"):
        "private: its callers pass sync and poll_seconds by keyword",
    (ASL, "return json.dumps(render(defn, **kwargs), indent=2, ensure_ascii=False)",
     "return json.dumps(render(defn, **kwargs), indent= 1, ensure_ascii=False)"):
        "whitespace only: the same JSON document",
    (RUN, 'if state.status != "new":', 'if state.status is not "new":'): LITERAL,
    (RUN, 'if state.status == "new":', 'if state.status is "new":'): LITERAL,
    (RUN, 'if state.status == "cancelling":', 'if state.status <= "cancelling":'):
        "only running and cancelling runs get there (new and finished raised before), and 'running' > 'cancelling'",
    ("domain/library/models.py", "if done is not None and done.sha256 == cmd.sha256:",
     "if done is not None and done.sha256 >= cmd.sha256:"):
        "a file's validation is dropped when the file is replaced, and cmd.sha256 must equal the file's: "
        "a recorded one always has the same sha256",
    (LIB, 'if result.get("state") == "rejected":', 'if result.get("state") >= "rejected":'):
        "verify answers rejected, completed or gone; only rejected is >= 'rejected'",
    (LIB, 'if result.get("state") == "rejected":', 'if result.get("state") is "rejected":'):
        "the answer comes in-process from verify_upload's string literals (interned): is and == agree",
    (LIB, 'if state.kind == "dataset" and is_data_file(up.path):',
     'if state.kind <= "dataset" and is_data_file(up.path):'):
        "kinds are 'model' and 'dataset' (RegisterModel refuses others), and 'model' > 'dataset'",
    (BLOB, 'with open(updir / f"part-{n:05d}", "rb", buffering=0) as f:',
     'with open(updir / f"part-{n:05d}", "rb", buffering= 1) as f:'): READ,
    (BLOB, 'with open(updir / f"part-{n:05d}", "rb", buffering=0) as f:',
     'with open(updir / f"part-{n:05d}", "rb", buffering= -1) as f:'): READ,
    (BLOB, 'joined = updir / f".join.{secrets.token_hex(6)}.tmp"',
     'joined = updir / f".join.{secrets.token_hex( 5)}.tmp"'): TEMP,
    (BLOB, 'joined = updir / f".join.{secrets.token_hex(6)}.tmp"',
     'joined = updir / f".join.{secrets.token_hex( 7)}.tmp"'): TEMP,
    (BLOB, "done_w += out.write(view[done_w:got]) or 0", "done_w += out.write(view[done_w:got]) or -1"):
        "a raw write of >= 1 byte to a regular file returns >= 1 (None and 0 only on non-blocking streams)",
    (BLOB, "entry.unlink(missing_ok=True)", "entry.unlink(missing_ok=False)"):
        "under the upload's lock only this loop removes part-* files (parts are renamed into place, abort locks)",
}
