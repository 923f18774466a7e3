"""Serving code shipped inside packages (copied to ``code/`` in model.tar.gz)."""
