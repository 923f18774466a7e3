"""Workflows: ASL rendering (``asl``), the definitions TLM ships (``definitions``) and the runs
service (``service``). The local runner is ``runtime.adapters.local_workflows``."""
