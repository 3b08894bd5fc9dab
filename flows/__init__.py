"""Prefect flows: the only place where storage, tasks and the catalog meet."""
