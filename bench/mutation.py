"""Mutation score of the core modules under the fast tests, with cosmic-ray's mutation operators.

    python bench/mutation.py --budget 600 [--per-module 40] [--seed 17] [--only datasets,asl]
    python bench/mutation.py --combine out/*.txt   # per-target runs (same seed) summed

Every target below pairs a core module with the fast tests that guard it (unit + contract, or a
targeted subset). The tracked tree is copied to a temporary directory and mutated there (never
the worktree); cosmic-ray enumerates the module's mutations (or those inside the functions a
target names, e.g. the upload verification methods of the library service) (``cosmic_ray.commands.init``) and
applies each one (``cosmic_ray.mutating.mutate_and_test``, which restores the file afterwards),
running the target's tests with a timeout of 3x their unmutated time + 10 s. With ``--budget``
seconds, a seeded sample of at most ``--per-module`` mutants per module is tried round-robin
until the budget is spent, so the score covers every module even on a short budget.

A mutant is *killed* when the tests fail or time out, *survived* when they pass; mutants that
could not be applied or made the module fail to import count as killed too (cosmic-ray's
"incompetent": the tests failed) and mutants cosmic-ray could not apply are left out, as are
mutants inside parameter/return annotations of modules with ``from __future__ import
annotations`` (never evaluated: equivalent by construction), and mutants listed as equivalent,
with the reason, in ``bench/mutation_equivalent.py`` (keyed by the line before and after, so the
list survives edits elsewhere in the module; a sampled one is left out and the next is tried).
Survivors are printed (module:line operator: line before -> after) above the last line, which is
JSON: ``mutants``, ``killed``, ``score`` (killed / mutants), per-module figures (with how many
listed equivalents were left out), the budget and the time used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mutation_equivalent import EQUIVALENT

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
# the SQLite half of the event store contract; -k applies to every file of a run, so the other files
# of a target are kept by name (a bare "sqlite" would deselect every test outside the contract file)
EVENT_STORE_TESTS = ["tests/contract/test_event_store_contract.py", "-k",
                     "not racing_writers and (sqlite or not event_store_contract)"]  # fmt: skip


@dataclass(frozen=True)
class Target:
    name: str
    module: str  # path from the repository root
    tests: tuple[str, ...]  # pytest arguments
    functions: tuple[str, ...] = ()  # mutate only inside these functions (methods) of the module; () = all


TARGETS = (
    Target("sqlite_event_store", "layers/runtime/runtime/adapters/sqlite/event_store.py",
           ("tests/unit/test_sqlite_event_store_details.py", *EVENT_STORE_TESTS)),
    Target("commands", "layers/runtime/runtime/services/commands.py",
           ("tests/unit/test_command_retries.py", "tests/unit/test_execute_many.py",
            "tests/unit/test_command_values.py", *EVENT_STORE_TESTS,
            "tests/unit/test_library_domain.py", "tests/unit/test_config_service.py",
            "tests/unit/test_compile_aggregate.py")),
    Target("projections", "layers/runtime/runtime/projections.py",
           ("tests/unit/test_projection_registry.py", "tests/unit/test_projection_folds.py",
            "tests/integration/test_projector_local.py")),
    Target("access", "layers/runtime/runtime/services/access.py", ("tests/integration/test_role_matrix.py",)),
    Target("library_domain", "domain/library/models.py", ("tests/unit/test_library_domain.py",
                                                          "tests/unit/test_dataset_validation.py",
                                                          "tests/unit/test_model_aggregate_log.py")),
    Target("upload_trigger", "functions/triggers/s3_upload.py",
           ("tests/unit/test_s3_upload_trigger.py", "tests/unit/test_handler_decorators.py",
            "tests/unit/test_dataset_library.py", "tests/integration/test_library_service.py")),
    Target("upload_verification", "layers/runtime/runtime/services/library.py",
           ("tests/unit/test_upload_verification.py", "tests/unit/test_upload_verification_races.py",
            "tests/unit/test_s3_upload_trigger.py", "tests/unit/test_dataset_library.py",
            "tests/integration/test_library_service.py"),
           functions=("complete_upload", "verify_upload", "finalize_upload")),
    Target("upload_blob_check", "layers/runtime/runtime/adapters/fs/blob_store.py",
           ("tests/unit/test_upload_verification.py", "tests/contract/test_blob_store_contract.py", "-k",
            "fs or not blob_store_contract", "tests/integration/test_library_service.py"),
           functions=("complete_upload",)),
    Target("workflow_interpreter", "domain/workflows/run.py",
           ("tests/unit/test_workflow_model.py", "tests/unit/test_workflow_run_items.py",
            "tests/integration/test_local_workflow_runner.py")),
    Target("asl_renderer", "layers/runtime/runtime/workflows/asl.py",
           ("tests/unit/test_asl_retry.py", "tests/unit/test_asl_pass_states.py", "tests/unit/test_workflow_model.py")),
    Target("datasets", "domain/library/datasets.py",
           ("tests/unit/test_dataset_validation.py", "tests/unit/test_dataset_label_types.py",
            "tests/unit/test_dataset_summary.py")),
)  # fmt: skip


@dataclass
class Figures:
    mutants: int = 0
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: int = 0  # sampled mutants listed in EQUIVALENT, left out


def copy_tree(dest: Path) -> None:
    """The tracked files plus untracked, not ignored ones (what the tests import)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout  # fmt: skip
    for rel in filter(None, out.decode().split("\0")):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{copy}:{copy / 'layers/runtime'}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


def command(target: Target) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in (*PYTEST, *target.tests))


def _signature_annotations(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every parameter and return annotation: with ``from __future__ import
    annotations`` they are strings nobody evaluates, so a mutant there is equivalent."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
               any(a.name == "annotations" for a in n.names) for n in tree.body):  # fmt: skip
        return []
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            notes = [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x]
            for n in [*notes, node.returns]:
                if n is not None:
                    spans.append(((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0)))
    return spans


def _function_lines(path: Path, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """(first, last) line of every function or method named in ``names``."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.lineno, n.end_lineno or n.lineno) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names]  # fmt: skip


def mutations(copy: Path, target: Target, work: Path) -> tuple[list[Any], int]:
    """The module's mutants (inside ``target.functions`` when given), less the equivalent ones in
    signature annotations (and how many of those)."""
    from cosmic_ray.commands import init
    from cosmic_ray.work_db import WorkDB, use_db

    spans = _signature_annotations(copy / target.module)
    with use_db(str(work / f"{target.name}.sqlite"), WorkDB.Mode.create) as db:
        init([copy / target.module], db, {})
        specs = [item.mutations[0] for item in db.work_items]
    if target.functions:
        lines = _function_lines(copy / target.module, target.functions)
        specs = [m for m in specs if any(lo <= m.start_pos[0] <= hi for lo, hi in lines)]
    kept = [m for m in specs if not any(lo <= tuple(m.start_pos) < hi for lo, hi in spans)]
    return kept, len(specs) - len(kept)


def changed_lines(copy: Path, spec: Any) -> tuple[str, str]:
    """The mutant's changed source, (before, after), each stripped (lines joined by " / ")."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    source = Path(spec.module_path).read_text(encoding="utf-8")
    mutated = mutate_code(source, get_operator(spec.operator_name)(**spec.operator_args), spec.occurrence)
    if mutated is None:
        return "", ""
    a, b = source.splitlines(), mutated.splitlines()
    head, tail = 0, 0  # lines alike at the start, at the end
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    before, after = a[head : len(a) - tail], b[head : len(b) - tail]
    return " / ".join(x.strip() for x in before), " / ".join(x.strip() for x in after)


def listed_equivalent(copy: Path, spec: Any) -> bool:
    rel = Path(spec.module_path).relative_to(copy).as_posix()
    return (rel, *changed_lines(copy, spec)) in EQUIVALENT


def sample(copy: Path, specs: list[Any], n: int, fig: Figures) -> list[Any]:
    """The first ``n`` of the (shuffled) specs that are not listed equivalent."""
    out = []
    for spec in specs:
        if len(out) >= n:
            break
        if listed_equivalent(copy, spec):
            fig.equivalent += 1
        else:
            out.append(spec)
    return out


def run(budget_s: float, per_module: int, seed: int, only: set[str] | None) -> dict[str, Any]:
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    started = time.monotonic()
    targets = [t for t in TARGETS if only is None or t.name in only]
    figures = {t.name: Figures() for t in targets}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tlm-mutation-") as tmp:
        copy, work = Path(tmp) / "tree", Path(tmp) / "work"
        copy.mkdir()
        work.mkdir()
        copy_tree(copy)
        os.environ.update(environment(copy))  # the test subprocesses inherit it
        cwd = os.getcwd()
        os.chdir(copy)
        try:
            queues: dict[str, list[Any]] = {}
            timeouts: dict[str, float] = {}
            for t in targets:
                t0 = time.monotonic()
                ok = subprocess.run(command(t), shell=True, capture_output=True).returncode == 0
                if not ok:
                    skipped[t.name] = "its tests fail without a mutation"
                    continue
                timeouts[t.name] = 3 * (time.monotonic() - t0) + 10
                specs, equivalent = mutations(copy, t, work)
                random.Random(f"{seed}:{t.name}").shuffle(specs)
                queues[t.name] = sample(copy, specs, per_module, figures[t.name])
                print(
                    f"# {t.name}: {len(specs)} mutants (+{equivalent} in signature annotations, left out), "
                    f"sampling {len(queues[t.name])} ({figures[t.name].equivalent} listed equivalent, left out)",
                    file=sys.stderr,
                )
            by_name = {t.name: t for t in targets}
            while any(queues.values()) and time.monotonic() - started < budget_s:
                for name, queue in queues.items():
                    if not queue or time.monotonic() - started >= budget_s:
                        continue
                    spec = queue.pop()
                    result = mutate_and_test([spec], command(by_name[name]), timeouts[name])
                    if result.worker_outcome == WorkerOutcome.NO_TEST:
                        continue  # cosmic-ray could not apply it
                    fig = figures[name]
                    fig.mutants += 1
                    if result.test_outcome == TestOutcome.SURVIVED:
                        rel = Path(spec.module_path).relative_to(copy)
                        before, after = changed_lines(copy, spec)
                        fig.survivors.append(f"{rel}:{spec.start_pos[0]} {spec.operator_name} #{spec.occurrence}: "
                                             f"{before} -> {after}")
                    else:
                        fig.killed += 1
        finally:
            os.chdir(cwd)
    mutants = sum(f.mutants for f in figures.values())
    killed = sum(f.killed for f in figures.values())
    return {
        "figures": figures,
        "summary": {
            "mutants": mutants,
            "killed": killed,
            "score": round(killed / mutants, 3) if mutants else None,
            "per_module": {
                n: {
                    "mutants": f.mutants,
                    "killed": f.killed,
                    "score": round(f.killed / f.mutants, 3) if f.mutants else None,
                    "equivalent_left_out": f.equivalent,
                }
                for n, f in figures.items()
            },
            "skipped": skipped,
            "budget_s": budget_s,
            "elapsed_s": round(time.monotonic() - started, 1),
            "per_module_cap": per_module,
            "seed": seed,
        },
    }


def combine(paths: list[str]) -> None:
    """Per-target runs (the output of ``--only <target>`` each, same seed) as one whole score:
    their survivor lines, then one JSON line summing them."""
    per_module: dict[str, Any] = {}
    elapsed, seeds = 0.0, set()
    for path in paths:
        lines = Path(path).read_text(encoding="utf-8").strip().splitlines()
        print("\n".join(ln for ln in lines if ln.startswith("survived [")))
        summary = json.loads(lines[-1])
        per_module.update(summary["per_module"])
        elapsed += summary["elapsed_s"]
        seeds.add(summary["seed"])
    mutants = sum(f["mutants"] for f in per_module.values())
    killed = sum(f["killed"] for f in per_module.values())
    print(json.dumps({"mutants": mutants, "killed": killed, "score": round(killed / mutants, 3) if mutants else None,
                      "per_module": per_module, "elapsed_s": round(elapsed, 1), "seeds": sorted(seeds),
                      "combined_from": len(paths)}))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--combine", nargs="+", metavar="FILE", help="sum the outputs of per-target runs instead")
    ap.add_argument("--budget", type=float, default=600, help="seconds for the whole run")
    ap.add_argument("--per-module", type=int, default=40, help="at most this many mutants per module")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--only", default="", help="comma-separated target names")
    args = ap.parse_args()
    if args.combine:
        return combine(args.combine)
    only = set(filter(None, args.only.split(","))) or None
    out = run(args.budget, args.per_module, args.seed, only)
    for name, fig in out["figures"].items():
        for s in fig.survivors:
            print(f"survived [{name}] {s}")
    print(json.dumps(out["summary"]))


if __name__ == "__main__":
    main()
