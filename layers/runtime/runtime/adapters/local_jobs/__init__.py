"""Local adapter of the JobRunner port: jobs as supervised subprocesses in job directories."""

from runtime.adapters.local_jobs.runner import DEFAULT_PROGRAMS, LocalJobRunner

__all__ = ["DEFAULT_PROGRAMS", "LocalJobRunner"]
