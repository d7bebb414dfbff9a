"""The ``edgeplane`` command: a thin client of the admin API, one module per command group."""
