"""leadstream's running half: the worker, collector, alerts consumer and operator commands.

``__version__`` is the one place the version lives: pyproject.toml reads it (``dynamic``), and
``leadstream --version``, the worker's ``/healthz`` and every qualification change's ``producer``
field report it.
"""

__version__ = "0.2.0"
PRODUCER = f"leadstream/{__version__}"
