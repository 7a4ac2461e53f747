from tests.conftest import client_for


def test_worklist_shows_setup_item_to_administrator(cast):
    response = client_for(cast.admin_a).get("/worklist/")
    assert response.status_code == 200
    assert b"Finish setting up your agency" in response.content


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
