"""Exit codes of the ``agenther`` command."""

EXIT_OK = 0
EXIT_INVALID_INPUT = 1  # validate: some records are not trajectories
EXIT_USAGE = 2  # the invocation cannot run (argparse uses 2 as well)
EXIT_FATAL_LLM = 3  # the endpoint refuses key or model, is out of quota, or is unreachable
EXIT_ALL_FAILED = 4  # no example, and runs ended in errors: something is wrong, not just strict
