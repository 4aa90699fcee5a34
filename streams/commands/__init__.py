"""The service's ``agenther`` commands, one module each.

Each module's ``register(subparsers)`` is an entry point of the ``agenther.commands`` group
(pyproject.toml) and only builds its parser: aiokafka and the service are imported when the
command runs, so ``agenther --help`` stays fast.
"""
