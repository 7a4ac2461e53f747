"""The main creates show a request body example in the OpenAPI document, and it is a body the
route takes."""

import pytest

from referloop.api.api import api
from referloop.clients.api import ClientIn
from referloop.referrals.api import ReferralIn, TransitionIn
from referloop.stays.api import InboundIn


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/api/v1/clients", ClientIn),
        ("/api/v1/referrals", ReferralIn),
        ("/api/v1/referrals/{referral_id}/transitions", TransitionIn),
        ("/api/v1/stays/inbound", InboundIn),
    ],
)
def test_a_create_shows_an_example_body_it_takes(db, path, schema):
    document = api.get_openapi_schema()
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    examples = document["components"]["schemas"][name]["examples"]
    assert examples
    for example in examples:
        schema.model_validate(example)  # raises if the route would refuse it
