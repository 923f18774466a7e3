"""optuna as the study sampler (its own Lambda layer; imported lazily through runtime.sampler)."""
