"""The directory's forms: the GET search form (→ DirectoryQuery) and the capacity update."""

import pytest

from referloop.directory.forms import CapacityForm, DirectorySearchForm
from referloop.directory.search import DirectoryQuery, directory_search
from tests.directory import factories


def test_an_empty_search_form_is_valid_and_asks_nothing():
    form = DirectorySearchForm({})
    assert form.is_valid(), form.errors
    assert form.to_query() == DirectoryQuery()


def test_every_field_is_labelled():
    for name, field in DirectorySearchForm().fields.items():
        assert field.label, name
    for name, field in CapacityForm().fields.items():
        assert field.label, name


def test_a_full_search_form_becomes_the_query():
    form = DirectorySearchForm(
        {
            "q": "  detox  ",
            "need": "detox",
            "age": "34",
            "gender": "female",
            "population": "veterans",
            "insurance": "medicaid",
            "court_ordered": "on",
            "language": "es",
            "postal_code": "62701-1234",
            "within_miles": "10",
            "has_capacity": "on",
            "page": "3",
        },
        per_page=25,
    )
    assert form.is_valid(), form.errors
    assert form.to_query() == DirectoryQuery(
        text="detox",
        need="detox",
        population="veterans",
        insurance="medicaid",
        age=34,
        gender="female",
        court_ordered=True,
        language="es",
        postal_code="62701",
        within_miles=10,
        has_capacity=True,
        page=3,
        per_page=25,
    )


def test_a_point_instead_of_a_zip_code():
    form = DirectorySearchForm({"lat": "39.8", "lon": "-89.65"})
    assert form.is_valid(), form.errors
    query = form.to_query()
    assert (query.near_lat, query.near_lon, query.postal_code) == (39.8, -89.65, "")


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"age": "121"}, "age", "Age: enter a whole number from 0 to 120."),
        ({"age": "-1"}, "age", "Age: enter a whole number from 0 to 120."),
        ({"age": "ten"}, "age", "Age: enter a whole number from 0 to 120."),
        ({"need": "astrology"}, "need", "Need: choose one from the list."),
        ({"gender": "x"}, "gender", "Gender: choose one from the list."),
        ({"population": "x"}, "population", "Population: choose one from the list."),
        ({"insurance": "x"}, "insurance", "Insurance or payment: choose one from the list."),
        ({"language": "xx"}, "language", "Language: choose one from the list."),
        ({"postal_code": "6270"}, "postal_code", "ZIP code: 5 digits (or ZIP+4), e.g. 62701."),
        ({"postal_code": "abcde"}, "postal_code", "ZIP code: 5 digits (or ZIP+4), e.g. 62701."),
        ({"postal_code": "62701-12345"}, "postal_code", "ZIP code: 5 digits, e.g. 62701."),
        ({"within_miles": "0"}, "within_miles", "Within (miles): enter a whole number"),
        ({"within_miles": "501"}, "within_miles", "Within (miles): enter a whole number"),
        ({"lat": "91", "lon": "0"}, "lat", "Latitude: enter a number from -90 to 90."),
        ({"lat": "nan", "lon": "0"}, "lat", "Latitude: enter a number from -90 to 90."),
        ({"lat": "0", "lon": "181"}, "lon", "Longitude: enter a number from -180 to 180."),
        ({"lat": "10"}, "lat", "Latitude and longitude: give both, or neither."),
        (
            {"lat": "10", "lon": "10", "postal_code": "62701"},
            "postal_code",
            "ZIP code: search near a ZIP code or near your location, not both.",
        ),
        # No field shows the page: its error is the form's, which the summary lists.
        ({"page": "0"}, "__all__", "Page: enter a whole number from 1 to 10000."),
        ({"page": "abc"}, "__all__", "Page: enter a whole number from 1 to 10000."),
        ({"q": "x" * 201}, "q", "Search words: at most 200 characters."),
    ],
)
def test_errors_name_their_field(data, field, says):
    form = DirectorySearchForm(data)
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert form.errors[field][0].startswith(says)


@pytest.mark.parametrize("field", ["q", "postal_code", "age", "need", "lat", "page"])
def test_nul_bytes_are_refused(field):
    form = DirectorySearchForm({field: "6\x0027"})
    assert not form.is_valid()
    assert ("__all__" if field == "page" else field) in form.errors


def test_the_form_drives_the_search(cast):
    org = factories.organization(network=cast.network, name="Riverbend")
    factories.service(organization=org, name="Detox", needs=["detox"], minimum_age=18)
    form = DirectorySearchForm({"need": "detox", "age": "17"})
    assert form.is_valid()
    page = directory_search(network=cast.network, query=form.to_query())
    assert page.results[0].failed == ["✗ age 17 below minimum 18"]


# --- capacity ----------------------------------------------------------------------------------


def test_capacity_form_cleans_to_the_service_arguments():
    form = CapacityForm({"unit": "slots", "available": "2", "maximum": "8", "waitlist": "on"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"unit": "slots", "available": 2, "maximum": 8, "waitlist": True}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"unit": "beds"}, "available"),
        ({"unit": "beds", "available": "-1"}, "available"),
        ({"unit": "beds", "available": "5", "maximum": "4"}, "available"),
        ({"unit": "beds", "available": "1", "maximum": "-4"}, "maximum"),
        ({"unit": "rooms", "available": "1"}, "unit"),
        ({"unit": "beds", "available": "1\x00"}, "available"),
    ],
)
def test_capacity_form_errors(data, field):
    form = CapacityForm(data)
    assert not form.is_valid()
    assert field in form.errors
    assert form.errors[field][0].split(":")[0] in {"Available now", "Of (maximum)", "Unit"}


def test_capacity_form_starts_from_the_current_count(cast):
    org = factories.organization(network=cast.network, agency=cast.agency_a)
    made = factories.service(organization=org, name="House")
    assert CapacityForm.for_service(made).initial == {"unit": "beds"}
    factories.capacity(service=made, unit="slots", available=2, maximum=6, waitlist=True)
    made.refresh_from_db()
    form = CapacityForm.for_service(made)
    assert form.initial == {"unit": "slots", "available": 2, "maximum": 6, "waitlist": True}
