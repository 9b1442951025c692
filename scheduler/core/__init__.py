"""The pure core: anniversary dates and moments, planning what is due, CLDR numbers,
and the vocabulary every layer shares (ledger states, subscriber statuses).

Nothing here reads the clock, the environment, a file or a database: ``now`` is a
parameter. It imports nothing of the package but :mod:`scheduler.errors`
(``[tool.importlinter]`` in pyproject.toml checks that).
"""
