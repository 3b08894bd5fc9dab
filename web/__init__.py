"""The web application (FastAPI): editors' review UI, search, compilation projects,
operators' dashboard and the JSON API. Built in the web UI issue; `lantai serve` starts it."""
