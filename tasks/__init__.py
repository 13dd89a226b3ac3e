"""Celery tasks: thin adapters that take ids, claim rows, call `fitting/` and store via services."""
