"""docs/errors.md is generated from the error classes: it cannot drift from them."""

from __future__ import annotations

import re

from lantai import errors_doc


def test_the_error_table_is_current() -> None:
    document = errors_doc.DOC.read_text(encoding="utf-8")
    assert errors_doc.render(document) == document, "run: python -m lantai.errors_doc --write"


def test_every_exit_code_and_status_is_explained() -> None:
    document = errors_doc.DOC.read_text(encoding="utf-8")
    explained = {int(code) for code in re.findall(r"^\| (\d+) \| [^|]*\| [^|]*\|$", document, re.M)}
    classes = errors_doc.error_classes()
    assert len(classes) >= 25  # the walk found the packages' errors, not just the base
    assert {c.exit_code for c in classes} <= explained
    assert all(400 <= c.http_status < 600 for c in classes)
    # an input error is the client's (4xx); a broken installation or store is the server's (5xx)
    from configs.errors import BadInputError, ConfigError
    from storage.base import StorageError

    for cls in classes:
        if issubclass(cls, BadInputError):
            assert 400 <= cls.http_status < 500, cls
        if issubclass(cls, ConfigError) or cls is StorageError:
            assert cls.http_status >= 500, cls
