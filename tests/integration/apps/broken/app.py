"""A worker that fails on import, as a version with a typo would."""

raise RuntimeError("boom: this worker cannot start (missing DATABASE_URL)")
