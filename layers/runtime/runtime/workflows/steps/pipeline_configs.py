"""The saved config a train or search node runs with, made from its ``config`` input.

A saved config is used as it is; a template (with its overrides), or node parameters that change
training values (``extra``: dotted paths such as ``training.epochs``), become a new config of the
run's project; the edits of arch_edit nodes upstream (``arch_edits`` on the input) derive a child
config each (``ConfigService.derive``). All through the platform's own config service, as the
run's requester.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.services.commands import Caller


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def saved_config(c: Any, caller: Caller, project_id: str, cfg: dict[str, Any], extra: dict[str, Any], *,
                 label: str, made_by: str) -> str:  # fmt: skip
    """The id of the config to run: ``cfg`` is the node's ``config`` input artifact."""
    if cfg.get("template"):
        config_id = c.configs.create_from_template(
            caller, project_id, cfg["template"], name=f"pipeline {label}",
            overrides={**flatten(cfg.get("overrides") or {}), **extra}, description=made_by,
        )["config_id"]  # fmt: skip
    elif extra:
        values = c.configs.get(caller, cfg["config_id"], version=cfg.get("version"))["values"]
        for path, value in extra.items():
            head, _, leaf = path.partition(".")
            values.setdefault(head, {})[leaf] = value
        config_id = c.configs.create_from_file(caller, project_id, json.dumps(values), name=f"pipeline {label}")[
            "config_id"
        ]
    else:
        config_id = cfg["config_id"]
    parent_version = cfg.get("version") if config_id == cfg.get("config_id") else None
    for i, edit in enumerate(cfg.get("arch_edits") or [], start=1):  # arch_edit nodes upstream: derived configs
        config_id = c.configs.derive(caller, config_id, edit, name=f"pipeline {label} edit {i}",
                                     parent_version=parent_version)["config_id"]  # fmt: skip
        parent_version = None
    return str(config_id)
