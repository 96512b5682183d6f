"""``python -m streams`` runs the same CLI as the ``leadstream`` console script."""

from streams.app import main

main()
