"""API fuzzing with schemathesis against the app's own OpenAPI schema (every route the app
declares, JSON API and HTML forms alike), anonymous and signed in as each role: no input
shape may give a server error, and no answer may break the schema it declares.

Requests carry the role's session cookie and CSRF token, so generated input reaches the
handlers rather than stopping at the sign-in or CSRF check. The run is derandomized: the
same cases every run, so a failure found in CI is found again on a laptop."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.web.conftest import Browser, Seeded
from web.app import create_app

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

ROLES = ("anonymous", "ed", "boss", "col", "op")  # editor, admin, collector, operator
EXAMPLES = 22  # per operation and role: 58 operations × 5 roles × 22 > 5,000 requests
SIGNED_OUT = {("POST", "/logout"), ("POST", "/login")}  # would end or replace the role's session


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_no_generated_request_gives_a_server_error_or_breaks_the_schema(seeded: Seeded) -> None:
    app = create_app()
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50, "the schema lists every route"
    sent = {"n": 0}
    failures: list[str] = []
    for role in ROLES:
        browser = Browser(app)
        if role == "anonymous":
            browser.get("/login")
            headers = {"X-CSRF-Token": browser.cookies.get("lantai_csrf") or ""}
        else:
            browser.login(role)
            headers = {"X-CSRF-Token": browser.csrf}
        cookies = dict(browser.cookies.items())
        for operation in operations:
            if role != "anonymous" and (operation.method.upper(), operation.path) in SIGNED_OUT:
                continue
            _fuzz(app, operation, headers, cookies, sent, failures, role)
    assert not failures, "\n".join(failures[:20])
    print(f"schemathesis: {sent['n']} requests, {len(failures)} failures")
    assert sent["n"] >= 5000, sent


def _fuzz(
    app: Any,
    operation: Any,
    headers: dict[str, str],
    cookies: dict[str, str],
    sent: dict[str, int],
    failures: list[str],
    role: str,
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def one(case: Any) -> None:
        response = case.call(app=app, headers=headers, cookies=cookies)
        sent["n"] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except Exception as e:  # collected: one report of every failing operation and role
            failures.append(f"{role} {case.method} {case.formatted_path}: {type(e).__name__}: {str(e)[:300]}")

    one()
