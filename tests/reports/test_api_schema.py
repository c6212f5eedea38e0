"""The OpenAPI schema at /api/schema/ against the running API: schemathesis generates requests
from it, as a supervisor, and no request may cause a server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from reports.demo import history_load
from reports.services import counts_fill
from tests.conftest import make_staff, session_cookie
from tests.support import LiveServer

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_schema_holds_against_the_running_api(live_server_proc: LiveServer) -> None:
    history_load(days=40, seed=3)
    counts_fill(rebuild=True)
    cookie = session_cookie(make_staff("siri", "supervisor"))
    schema = schemathesis.openapi.from_url(f"{live_server_proc.url}/api/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} == {
        "/api/statistics",
        "/api/statistics/counties",
        "/api/statistics/export.csv",
        "/api/statistics/export.xlsx",
    }
    for operation in operations:

        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=live_server_proc.url,
                cookies={"sessionid": cookie},
                checks=[not_a_server_error],
            )

        run()
