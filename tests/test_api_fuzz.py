"""Schemathesis over every operation of /api/schema/, against the service as deployed
(`manage.py serve --no-worker`), as a plain user and as staff, with every check it has: no
server error, and every answer (status, content type, headers, body) as the schema says;
what the schema allows is accepted and what it forbids is refused.

Every phase runs, as `schemathesis run` would: the schema's examples, its boundaries
(coverage), random cases (fuzzing), then sequences following the schema's links from created
records to what can be done with them (stateful). The cases are bounded and drawn the same
way on every run; how many each operation got is printed at the end of the test session.

The run goes through Schemathesis's engine rather than `schemathesis.pytest.from_fixture`,
whose subtests rename pytest's nodes through an attribute pytest 9 no longer has.
"""

import pytest

from tests.fuzzing import FuzzService, operations, run

pytestmark = pytest.mark.server

# Per operation and phase: enough to find what the suite exists for within three minutes
# on two cores, for both roles.
MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = FuzzService(tmp_path_factory.mktemp("fuzz"))
    try:
        running.seed()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("role", ["user", "staff"])
def test_every_operation_answers_as_the_schema_says(service, role):
    schema = service.schema(role, MAX_EXAMPLES)
    outcome = run(role, schema)

    if outcome.failures:
        pytest.fail("\n\n".join(outcome.failures), pytrace=False)
    # Nothing left out: every operation of the schema got cases, in every phase that has any
    # (the schema has no examples of its own to replay).
    assert outcome.operations == {operation.label for operation in operations(schema)}
    assert {"coverage", "fuzzing", "stateful"} <= outcome.phases
