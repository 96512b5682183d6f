"""``python -m streams`` runs the same CLI as the ``leadstream`` console script."""

from streams.cli import main

main()
