"""The release center's pure model: model versions (immutable snapshots with serving parameters,
approvals), stage aliases, the per-project release policy, deployments (traffic between a
primary and a candidate slot, update strategies, the bake verdict, shadow copies)."""
