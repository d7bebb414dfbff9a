"""Worker runtime: bundles, supervised worker process pools, and the in-worker helper."""
