"""Print media (materials, what went to whom, the welcome packet) and the monthly availability
e-mail (preview, send through the outbox, delivery over real SMTP, the public unsubscribe link)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from referloop.core.errors import DomainError
from referloop.core.models import OutboundEmail
from referloop.core.outbox import outbox_deliver
from referloop.core.services import api_token_create
from referloop.partners import selectors, services
from referloop.partners.models import (
    Interaction,
    InteractionKind,
    KeyContact,
    KeyContactDue,
    Material,
    MaterialKind,
    Stage,
)
from referloop.partners.unsubscribe import token_hash
from tests.conftest import client_for
from tests.directory import factories
from tests.smtp import smtp_server  # noqa: F401

pytestmark = pytest.mark.django_db

TOKEN_URL = re.compile(r"/partners/unsubscribe/([A-Za-z0-9_-]{43})/")
NOW = "2026-05-12T15:00:00Z"


@pytest.fixture
def smtp(settings, smtp_server):  # noqa: F811
    settings.SMTP_HOST = smtp_server.host
    settings.MAILERS = smtp_server.mailers()
    return smtp_server


def person(cast, name, *, email="", organization=None, agency=None):
    """A partner person and their key contact at the agency (default: A)."""
    agency = agency or cast.agency_a
    organization = organization or factories.organization(network=cast.network, name="Harbor")
    actor = cast.coordinator if agency == cast.agency_a else cast.admin_b
    contact = services.partner_contact_create(
        agency=agency, actor=actor, name=name, organization=organization, email=email
    )
    return KeyContact.objects.select_related("contact", "relationship").get(
        contact=contact, agency=agency
    )


def established(key: KeyContact, actor, stage=Stage.TRUST) -> KeyContact:
    services.relationship_stage_move(relationship=key.relationship, actor=actor, stage=stage)
    key.refresh_from_db()
    return key


def opted_in(cast, name, email, **kwargs) -> KeyContact:
    key = established(person(cast, name, email=email, **kwargs), cast.coordinator)
    return services.availability_opt_in(key_contact=key, actor=cast.coordinator, opted_in=True)


def beds(cast, *, agency=None, name="Harbor Men's House", available=3, maximum=8, at=None):
    agency = agency or cast.agency_a
    org = factories.organization(network=agency.network, agency=agency, name=f"{agency.name} org")
    service = factories.service(organization=org, name=name)
    return factories.capacity(service=service, available=available, maximum=maximum, at=at)


def bodies(message) -> str:
    return "\n".join(part.get_content() for part in message.walk() if not part.is_multipart())


def api(cast, user=None):
    raw = api_token_create(user=user or cast.coordinator, agency=cast.agency_a)[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


# --- print media ------------------------------------------------------------------------------


def test_the_materials_page_starts_with_the_usual_four_and_an_empty_log(cast):
    page = client_for(cast.coordinator).get("/partners/materials/")

    assert page.status_code == 200
    materials = Material.objects.for_agency(cast.agency_a)
    assert sorted(materials.values_list("name", "on_hand")) == [
        ("Brochure", 0),
        ("Business card", 0),
        ("Rack card", 0),
        ("Welcome folder packet", 0),
    ]
    assert list(materials.filter(is_welcome_packet=True).values_list("kind", flat=True)) == [
        MaterialKind.FOLDER_PACKET
    ]
    html = page.content.decode()
    assert "Welcome folder packet" in html and "Nothing has gone out yet" in html
    # Opened again (or by another agency): no duplicates, and B gets its own four.
    client_for(cast.coordinator).get("/partners/materials/")
    assert materials.count() == 4
    assert services.materials_defaults_ensure(agency=cast.agency_b)
    assert Material.objects.for_agency(cast.agency_b).count() == 4


def test_materials_are_created_and_edited_with_errors_next_to_the_field(cast):
    web = client_for(cast.coordinator)
    created = web.post(
        "/partners/materials/new/",
        {"name": "Spring flyer", "kind": "other", "on_hand": "40", "is_active": "on"},
    )
    assert created.status_code == 302 and created["Location"] == "/partners/materials/"
    flyer = Material.objects.get(agency=cast.agency_a, name="Spring flyer")
    assert (flyer.on_hand, flyer.is_active) == (40, True)

    clash = web.post(
        "/partners/materials/new/", {"name": "spring FLYER", "kind": "other", "on_hand": 1}
    )
    assert clash.status_code == 400
    assert "There is already a material called" in clash.content.decode()
    assert 'id="id_name_error"' in clash.content.decode()  # next to the field

    form = web.get(f"/partners/materials/{flyer.pk}/edit/")
    assert form.status_code == 200 and 'value="Spring flyer"' in form.content.decode()
    saved = web.post(
        f"/partners/materials/{flyer.pk}/edit/",
        {"name": "Spring flyer", "kind": "rack_card", "on_hand": "35"},
    )
    assert saved.status_code == 302
    flyer.refresh_from_db()
    assert (flyer.kind, flyer.on_hand, flyer.is_active) == ("rack_card", 35, False)

    # Another agency's material is not found, and auditors may not edit.
    other = Material.objects.create(agency=cast.agency_b, name="B card", kind="business_card")
    assert web.get(f"/partners/materials/{other.pk}/edit/").status_code == 404
    assert client_for(cast.auditor).get("/partners/materials/new/").status_code == 403


def test_a_print_media_packet_takes_stock_and_clears_the_welcome_packet_due(cast):
    key = person(cast, "Pat Placement", email="pat@harbor.example.org")
    services.interaction_log(
        relationship=key.relationship,
        actor=cast.coordinator,
        kind=InteractionKind.CALL,
        people=[key.contact],
    )
    key.refresh_from_db()
    assert key.due_reason == KeyContactDue.WELCOME_PACKET  # a first contact: the worklist item

    services.materials_defaults_ensure(agency=cast.agency_a)
    packet = Material.objects.get(agency=cast.agency_a, is_welcome_packet=True)
    services.material_save(
        agency=cast.agency_a,
        actor=cast.coordinator,
        material=packet,
        name=packet.name,
        kind=packet.kind,
        on_hand=10,
        is_welcome_packet=True,
    )
    services.interaction_log(
        relationship=key.relationship,
        actor=cast.coordinator,
        kind=InteractionKind.PRINT_MEDIA,
        people=[key.contact],
        material=packet,
        quantity=2,
    )

    packet.refresh_from_db()
    key.refresh_from_db()
    assert packet.on_hand == 8
    assert (key.due_reason, key.next_due_at) == ("", None)
    assert key.welcome_packet_sent_at is not None
    page = client_for(cast.auditor).get("/partners/materials/").content.decode()
    log = page.split("What went to whom")[1]
    assert "Welcome folder packet" in log and "Pat Placement" in log and "Harbor" in log
    assert "Nothing has gone out yet" not in page


def test_the_materials_log_lists_newest_first_in_a_fixed_number_of_queries(
    cast, django_assert_max_num_queries
):
    services.materials_defaults_ensure(agency=cast.agency_a)
    card = Material.objects.get(agency=cast.agency_a, name="Business card")
    card.on_hand = 100
    card.save()
    for index in range(6):
        key = person(
            cast,
            f"Person {index}",
            organization=factories.organization(network=cast.network, name=f"Org {index}"),
        )
        services.interaction_log(
            relationship=key.relationship,
            actor=cast.coordinator,
            kind=InteractionKind.PRINT_MEDIA,
            people=[key.contact],
            material=card,
            occurred_at=timezone.now() - timedelta(days=10 - index),
        )
    web = client_for(cast.coordinator)
    with django_assert_max_num_queries(12):
        page = web.get("/partners/materials/").content.decode()
    log = page.split("What went to whom")[1]
    assert log.index("Person 5") < log.index("Person 0")


def test_the_materials_api_lists_creates_and_patches(cast):
    services.materials_defaults_ensure(agency=cast.agency_a)
    client = api(cast)

    listed = client.get("/api/v1/partners/materials")
    assert listed.status_code == 200
    assert {item["name"] for item in listed.json()["items"]} >= {"Rack card", "Brochure"}

    created = client.post(
        "/api/v1/partners/materials",
        {"name": "Door hanger", "kind": "other", "on_hand": 25},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["on_hand"], body["is_active"]) == ("Door hanger", 25, True)

    patched = client.patch(
        f"/api/v1/partners/materials/{body['id']}",
        {"on_hand": 20},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["on_hand"]) == ("Door hanger", 20)

    clash = client.post(
        "/api/v1/partners/materials",
        {"name": "rack card", "kind": "rack_card"},
        content_type="application/json",
    )
    assert clash.status_code == 400 and clash.json()["field"] == "name"
    strict = client.post(
        "/api/v1/partners/materials",
        {"name": "X", "kind": "rack_card", "colour": "red"},
        content_type="application/json",
    )
    assert strict.status_code == 422  # unknown fields are refused
    negative = client.patch(
        f"/api/v1/partners/materials/{body['id']}", {"on_hand": -1}, content_type="application/json"
    )
    assert negative.status_code == 422
    other = Material.objects.create(agency=cast.agency_b, name="B card", kind="business_card")
    assert (
        client.patch(
            f"/api/v1/partners/materials/{other.pk}",
            {"on_hand": 1},
            content_type="application/json",
        ).status_code
        == 404
    )
    read_only = api(cast, cast.auditor).post(
        "/api/v1/partners/materials",
        {"name": "Y", "kind": "rack_card"},
        content_type="application/json",
    )
    assert read_only.status_code == 403


# --- the monthly availability e-mail: who, what ---------------------------------------------


def test_only_opted_in_established_contacts_with_an_address_are_recipients(cast):
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    early = person(
        cast,
        "Eli Early",
        email="eli@early.example.org",
        organization=factories.organization(network=cast.network, name="Early Days"),
    )
    services.availability_opt_in(key_contact=early, actor=cast.coordinator, opted_in=True)
    established(person(cast, "Not Asked", email="no@harbor.example.org"), cast.coordinator)
    nomail = established(person(cast, "No Mail"), cast.coordinator)
    with pytest.raises(DomainError) as refused:
        services.availability_opt_in(key_contact=nomail, actor=cast.coordinator, opted_in=True)
    assert refused.value.field == "email"
    opted_in(cast, "Bea Bravo", "bea@bravo.example.org", agency=cast.agency_b)

    recipients = list(selectors.availability_recipients(agency=cast.agency_a))
    assert recipients == [ana]  # Eli's partner is still in "reach out"; B's people are B's


def test_the_preview_lists_the_agencys_beds_and_the_recipients(cast):
    beds(cast, name="Harbor Men's House", available=3, maximum=8)
    beds(
        cast, name="Old Count House", available=1, maximum=4, at=timezone.now() - timedelta(days=40)
    )
    beds(cast, agency=cast.agency_b, name="Bravo Beds", available=9, maximum=9)
    opted_in(cast, "Ana Admissions", "ana@harbor.example.org")

    page = client_for(cast.auditor).get("/partners/availability/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Harbor Men&#x27;s House, beds: 3 of 8 available" in html
    assert "Old Count House, beds: 1 of 4 available" in html
    assert "not updated recently" in html  # the 40-day-old count is marked
    assert "Bravo Beds" not in html  # agency B's services are B's
    assert "Who gets it (1)" in html and "ana@harbor.example.org" in html
    assert "Alpha Recovery: beds and places available" in html
    assert "Unsubscribe (one click, no sign-in)" in html
    assert 'action="/partners/availability/send/"' not in html  # the auditor may not send
    stale = [item.stale for item in selectors.agency_availability(agency=cast.agency_a)]
    assert stale == [False, True]


def test_the_opt_in_list_saves_the_ticked_people(cast):
    ana = established(
        person(cast, "Ana Admissions", email="ana@harbor.example.org"), cast.coordinator
    )
    ben = opted_in(cast, "Ben Beds", "ben@harbor.example.org")
    web = client_for(cast.coordinator)
    assert "Ana Admissions" in web.get("/partners/availability/").content.decode()

    saved = web.post(
        "/partners/availability/list/", {"shown": [ana.pk, ben.pk], "opted_in": [ana.pk]}
    )

    assert saved.status_code == 302
    ana.refresh_from_db()
    ben.refresh_from_db()
    assert (ana.availability_opt_in, ana.opted_in_at is not None) == (True, True)
    assert (ben.availability_opt_in, ben.opted_in_at) == (False, None)
    assert client_for(cast.auditor).post("/partners/availability/list/", {}).status_code == 403


# --- sending, delivery, unsubscribing ---------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_sending_queues_one_message_each_with_an_unsubscribe_link_and_logs_it(cast):
    beds(cast)
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    cy = opted_in(
        cast, "Cy Case", "cy@harbor.example.org", organization=ana.relationship.organization
    )
    dee = opted_in(
        cast,
        "Dee Discharge",
        "dee@lakeside.example.org",
        organization=factories.organization(network=cast.network, name="Lakeside"),
    )

    sent = client_for(cast.coordinator).post("/partners/availability/send/")

    assert sent.status_code == 302
    messages = OutboundEmail.objects.filter(kind="partner_availability").order_by("to")
    assert [m.to for m in messages] == [ana.contact.email, cy.contact.email, dee.contact.email]
    assert {m.dedupe_key for m in messages} == {
        f"partner-availability:{cast.agency_a.pk}:2026-05:{key.pk}" for key in (ana, cy, dee)
    }
    tokens = [TOKEN_URL.search(m.body_text).group(1) for m in messages]
    assert len(set(tokens)) == 3
    for key, token in zip((ana, cy, dee), tokens, strict=True):
        key.refresh_from_db()
        assert key.unsubscribe_token_hash == token_hash(token)  # only the hash is stored
        assert token not in key.unsubscribe_token_hash
    # One interaction per relationship, naming its recipients, moving the cadence on.
    logged = Interaction.objects.filter(kind=InteractionKind.AVAILABILITY_EMAIL)
    assert sorted(sorted(p.name for p in i.people.all()) for i in logged) == [
        ["Ana Admissions", "Cy Case"],
        ["Dee Discharge"],
    ]
    ana.relationship.refresh_from_db()
    assert ana.relationship.last_contact_at == timezone.now()
    ana.refresh_from_db()
    assert ana.due_reason == ""  # an automated e-mail is nobody's first contact

    # A second send this month is refused; forced, it reaches nobody new.
    with pytest.raises(DomainError) as again:
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    assert again.value.code == "conflict"
    eve = opted_in(
        cast, "Eve Evening", "eve@harbor.example.org", organization=ana.relationship.organization
    )
    assert (
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator, force=True)
        == 1
    )
    assert (
        OutboundEmail.objects.filter(kind="partner_availability", to=eve.contact.email).count() == 1
    )
    assert OutboundEmail.objects.filter(kind="partner_availability").count() == 4


def test_nothing_to_say_or_nobody_to_tell_is_refused(cast):
    opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    with pytest.raises(DomainError) as no_beds:
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    assert no_beds.value.field == "availability"
    beds(cast, agency=cast.agency_b)
    opted_in(cast, "Bea Bravo", "bea@bravo.example.org", agency=cast.agency_b)
    services.availability_email_send(agency=cast.agency_b, actor=cast.admin_b)
    beds(cast)
    KeyContact.objects.filter(agency=cast.agency_a).update(availability_opt_in=False)
    with pytest.raises(DomainError) as nobody:
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    assert nobody.value.field == "recipients"
    assert not OutboundEmail.objects.filter(agency=cast.agency_a).exists()
    assert client_for(cast.auditor).post("/partners/availability/send/").status_code == 403


def test_the_worker_delivers_over_smtp_and_the_link_unsubscribes_without_login(cast, smtp):
    beds(cast, name="Harbor Men's House", available=3, maximum=8)
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    ben = opted_in(
        cast, "Ben Beds", "ben@harbor.example.org", organization=ana.relationship.organization
    )
    with time_machine.travel(NOW, tick=True):
        assert services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator) == 2

    assert outbox_deliver() == 2
    (message,) = smtp.messages_to("ana@harbor.example.org")
    assert message["Subject"] == "Alpha Recovery: beds and places available, May 2026"
    assert message["Reply-To"] == cast.coordinator.email
    text = bodies(message)
    assert "Harbor Men's House, beds: 3 of 8 available" in text
    links = set(
        re.findall(rf"{re.escape(settings.BASE_URL)}/partners/unsubscribe/[\w-]{{43}}/", text)
    )
    assert len(links) == 1  # the same link in the text and the HTML part
    link = links.pop()
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = link.removeprefix(settings.BASE_URL)

    # A mail scanner (or the person) opens it: a page with one button, nothing changed.
    anonymous = Client()
    page = anonymous.get(path)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer" and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert "Stop the monthly availability e-mail?" in html and "a•••@harbor.example.org" in html
    assert html.count("<button") == 1 and "csrfmiddlewaretoken" not in html
    assert "Set-Cookie" not in str(page.cookies)
    ana.refresh_from_db()
    assert ana.unsubscribed_at is None and ana.availability_opt_in

    done = anonymous.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    ana.refresh_from_db()
    assert ana.unsubscribed_at is not None and not ana.availability_opt_in
    assert "You are unsubscribed" in anonymous.get(path).content.decode()
    assert anonymous.post(path).status_code == 200  # again: nothing more to do

    # Next month the e-mail no longer goes to Ana.
    with time_machine.travel("2026-06-10T15:00:00Z", tick=True):
        assert services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator) == 1
    assert outbox_deliver() == 1
    assert len(smtp.messages_to("ana@harbor.example.org")) == 1
    assert len(smtp.messages_to(ben.contact.email)) == 2


def test_unsubscribing_before_delivery_cancels_the_waiting_message(cast, smtp):
    beds(cast)
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    path = TOKEN_URL.search(OutboundEmail.objects.get(to=ana.contact.email).body_text).group(0)

    Client().post(path, {"List-Unsubscribe": "One-Click"})  # RFC 8058's one-click POST

    assert outbox_deliver() == 0 and smtp.messages == []
    assert OutboundEmail.objects.get(to=ana.contact.email).state == "cancelled"


def test_a_bad_or_replaced_token_is_a_404(cast):
    beds(cast)
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    with time_machine.travel(NOW, tick=True):
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    may = TOKEN_URL.search(OutboundEmail.objects.get(to=ana.contact.email).body_text).group(0)
    with time_machine.travel("2026-06-10T15:00:00Z", tick=True):
        services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)

    anonymous = Client()
    for path in (may, "/partners/unsubscribe/not-a-token/", f"/partners/unsubscribe/{'A' * 43}/"):
        for method in (anonymous.get, anonymous.post):
            response = method(path)
            assert response.status_code == 404, path
            assert "This link doesn't work" in response.content.decode()
    ana.refresh_from_db()
    assert ana.unsubscribed_at is None and ana.availability_opt_in


def test_too_many_unknown_links_from_one_address_are_refused(cast, settings):
    settings.REPLY_UNKNOWN_LINKS_PER_IP = 2
    anonymous = Client()
    for _ in range(2):
        assert anonymous.get(f"/partners/unsubscribe/{'B' * 43}/").status_code == 404
    assert anonymous.get(f"/partners/unsubscribe/{'C' * 43}/").status_code == 429


def test_agency_as_unsubscribe_link_reaches_nothing_else(cast):
    beds(cast)
    beds(cast, agency=cast.agency_b)
    ana = opted_in(cast, "Ana Admissions", "ana@harbor.example.org")
    bea = opted_in(cast, "Bea Bravo", "bea@bravo.example.org", agency=cast.agency_b)
    cy = opted_in(
        cast, "Cy Case", "cy@harbor.example.org", organization=ana.relationship.organization
    )
    services.availability_email_send(agency=cast.agency_a, actor=cast.coordinator)
    services.availability_email_send(agency=cast.agency_b, actor=cast.admin_b)
    path = TOKEN_URL.search(OutboundEmail.objects.get(to=ana.contact.email).body_text).group(0)
    token = path.split("/")[-2]
    anonymous = Client()

    page = anonymous.get(path).content.decode()
    # Only the agency and Ana's masked address: no names, no other people, no links into the app.
    for private in ("Ana Admissions", "ana@harbor", "Cy Case", "Bravo", "Harbor"):
        assert private not in page, private
    assert not re.findall(r'href="/(?!static/)', page)
    anonymous.post(path)
    # The token opens no other page and signs nobody in.
    assert anonymous.get("/partners/availability/")["Location"].startswith("/login/")
    assert anonymous.get(f"/r/{token}").status_code == 404
    assert (
        anonymous.get(
            "/api/v1/partners/materials", HTTP_AUTHORIZATION=f"Bearer {token}"
        ).status_code
        == 401
    )
    # Only Ana is unsubscribed: not Cy at the same partner, not B's contact.
    for key in (cy, bea):
        key.refresh_from_db()
        assert key.unsubscribed_at is None and key.availability_opt_in
