"""``python -m edgeplane`` runs the CLI."""

from edgeplane.cli.main import main

main()
