"""Alembic's migrations of the store's schema (see :mod:`scheduler.store.migrate`).

A package, so that setuptools ships it; Alembic itself reads env.py and versions/ as
files. Write a new migration from the repository's root, against a database at the
previous head (env.py numbers it 0002, 0003, ...):

    alembic -c scheduler/store/migrations/alembic.ini -x url=sqlite:///dev.db \\
        revision --autogenerate -m "what it changes"

then read it over and raise ``HEAD`` in :mod:`scheduler.store.migrate`.
"""
