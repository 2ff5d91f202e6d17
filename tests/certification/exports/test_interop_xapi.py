"""The xAPI statements Kafaat exports, checked by an xAPI validator nobody on the project wrote.

Learning Locker's `xapi-validation` (npm, conformance-tested with its LRS) reads every statement of a real
export: issuing, then a suspension, a reinstatement and a revocation recorded by the certification app.
"""

import io
import json

import pytest

from tests.interop import runner
from xblocks.certification.exports import api

pytestmark = [pytest.mark.django_db]


def _statements(world) -> list[dict]:
    out = io.BytesIO()
    api.write_export(world.staff, out, format="xapi", employer="acme")
    return json.loads(out.getvalue())


def test_every_exported_statement_passes_an_independent_xapi_validator(world, django_capture_on_commit_callbacks):
    from xblocks.certification import api as certification_api

    alice = world.certificates["alice"].pk
    for status in ("suspended", "active", "revoked"):
        with django_capture_on_commit_callbacks(execute=True):
            certification_api.set_certificate_status(alice, status, reason="interop", actor=world.staff)
    statements = _statements(world)
    assert len(statements) >= 5  # one per event: three issued, then alice's three changes
    answer = runner.run({"statements": statements})["xapi"]
    assert answer["ok"], [s for s in answer["statements"] if s["warnings"]]


def test_the_validator_catches_what_a_broken_statement_gets_wrong(world):
    statement = _statements(world)[0]
    statement["verb"]["id"] = "earned"  # not an IRI
    del statement["actor"]["account"]["homePage"]
    answer = runner.run({"statements": [statement]})["xapi"]
    warnings = answer["statements"][0]["warnings"]
    assert not answer["ok"]
    assert any(w.startswith("verb.id") for w in warnings), warnings
    assert any("homePage" in w for w in warnings), warnings
