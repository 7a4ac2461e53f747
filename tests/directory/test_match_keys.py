"""Service.match_keys (terms and languages on the service row) and Service.eligibility_key: kept
right by every path that writes services — the directory services, the HSDS import (first and
later imports), the demo generator and the migration that fills existing rows."""

import importlib

from django.apps import apps

from referloop.directory import services as directory_services
from referloop.directory.models import Language, Service, ServiceAttribute, TaxonomyTerm
from referloop.directory.services import MATCHED_VOCABULARIES, match_keys_compose
from tests.directory import factories
from tests.directory.hsds_support import FIXTURES, copy_fixture, import_ok, make_network


def recomputed(service: Service) -> str:
    """What the service's match keys must be, from its attribute and language rows."""
    return match_keys_compose(
        term_ids=ServiceAttribute.objects.filter(
            service=service, term__taxonomy__name__in=MATCHED_VOCABULARIES
        ).values_list("term", flat=True),
        language_codes=Language.objects.filter(service=service).values_list("code", flat=True),
    )


def term(code: str) -> TaxonomyTerm:
    return TaxonomyTerm.objects.get(taxonomy__name__startswith="Referloop", code=code)


def test_the_keys_say_terms_languages_and_whether_any_language_is_listed():
    assert match_keys_compose(term_ids=[12, 3], language_codes=["es_MX", "EN", ""]) == (
        " lang lang:en lang:es-mx t:12 t:3 "
    )
    assert match_keys_compose(term_ids=[], language_codes=[""]) == " lang "  # named, no code
    assert match_keys_compose(term_ids=[], language_codes=[]) == ""
    # Nothing that would break the encoding: spaces, LIKE wildcards, the key separator.
    assert match_keys_compose(term_ids=[], language_codes=["e s|%_"]) == " lang lang:es- "


def test_setting_terms_and_languages_refreshes_the_keys(cast):
    org = factories.organization(network=cast.network)
    service = factories.service(
        organization=org, needs=["detox"], payment=["medicaid"], languages=["es"]
    )
    # The need is not among them: search filters on it through the attributes.
    assert service.match_keys == f" lang lang:es t:{term('medicaid').pk} "

    directory_services.service_terms_set(service=service, terms=[term("detox"), term("veterans")])
    directory_services.service_languages_set(service=service, languages=[("vi", "Vietnamese")])

    service.refresh_from_db()
    assert service.match_keys == f" lang lang:vi t:{term('veterans').pk} " == recomputed(service)


def test_the_eligibility_key_follows_every_column_the_criteria_read(cast):
    org = factories.organization(network=cast.network)
    one = factories.service(organization=org, name="One", minimum_age=18, payment=["medicaid"])
    twin = factories.service(organization=org, name="Twin", minimum_age=18, payment=["medicaid"])
    assert one.eligibility_key == twin.eligibility_key

    changes = {
        "status": "inactive",
        "minimum_age": 21,
        "maximum_age": 64,
        "court_ordered_accepted": False,
        "genders_served": ["female"],
    }
    for field, value in changes.items():
        Service.objects.filter(pk=twin.pk).update(**{field: value})
        twin.refresh_from_db()
        assert twin.eligibility_key != one.eligibility_key, field
        Service.objects.filter(pk=twin.pk).update(**{field: getattr(one, field)})
    directory_services.service_languages_set(service=twin, languages=[("es", "Spanish")])
    twin.refresh_from_db()
    assert twin.eligibility_key != one.eligibility_key


def test_an_import_writes_the_keys_of_new_services_and_refreshes_changed_ones(db, tmp_path):
    network = make_network()
    import_ok(FIXTURES / "hsds-2.0.1", network)
    counseling = Service.objects.get(network=network, source_id="s-1")
    case = Service.objects.get(network=network, source_id="s-2")
    assert "lang:en" in counseling.match_keys and "lang:vi" in counseling.match_keys
    for service in Service.objects.filter(network=network):
        assert service.match_keys == recomputed(service), service.source_id

    # A later file moves the Vietnamese row to the other service: both services change.
    folder = copy_fixture("hsds-2.0.1", tmp_path)
    languages = folder / "languages.csv"
    languages.write_text(languages.read_text().replace("lg-2,s-1,", "lg-2,s-2,"))
    import_ok(folder, network)

    counseling.refresh_from_db()
    case.refresh_from_db()
    assert "lang:vi" not in counseling.match_keys and "lang:vi" in case.match_keys
    assert (counseling.match_keys, case.match_keys) == (recomputed(counseling), recomputed(case))


def test_the_demo_directory_has_its_keys(cast):
    factories.demo_directory(network=cast.network, services=60, seed=1)
    services = Service.objects.filter(network=cast.network)
    assert services.count() >= 60
    assert services.filter(match_keys__contains=" lang:es ").exists()
    for service in services:
        assert service.match_keys == recomputed(service), service.name


def test_the_migration_fills_the_keys_of_existing_services(cast):
    org = factories.organization(network=cast.network)
    made = [
        factories.service(organization=org, name="Terms", needs=["detox"], payment=["medicaid"]),
        factories.service(organization=org, name="Languages", languages=["es", "en"]),
        factories.service(organization=org, name="Nothing"),
    ]
    expected = {service.pk: service.match_keys for service in made}
    Service.objects.update(match_keys="")

    migration = importlib.import_module("referloop.directory.migrations.0006_service_match_keys")
    migration.fill(apps, None)

    assert dict(Service.objects.values_list("pk", "match_keys")) == expected
    assert expected[made[2].pk] == ""
