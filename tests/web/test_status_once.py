"""A phone's queued status entry carries an id of its own: sent twice (its answer lost),
it is written once; a refused one may be sent again; ids are per user."""

from __future__ import annotations


def test_an_entry_sent_twice_is_written_once(app, viewer, demo_layers):
    store = app.extensions["store"]
    household = demo_layers["households"]["household_id"].iloc[3]
    body = {"request_id": "phone-entry-0001", "rows": [{"entity_id": household, "status": "red"}]}
    before = store.last_seq()
    first = viewer.post("/api/status", json=body)
    assert first.status_code == 200 and first.get_json()["applied"] == 1
    again = viewer.post("/api/status", json=body)
    assert again.status_code == 200
    assert again.get_json() == {"seq": first.get_json()["seq"], "applied": 0, "duplicate": True}
    assert store.changes_since(before)["entity_id"].tolist() == [household]


def test_a_refused_entry_may_be_sent_again_and_ids_are_checked(app, viewer, demo_layers):
    store = app.extensions["store"]
    household = demo_layers["households"]["household_id"].iloc[4]
    bad = {"request_id": "phone-entry-0002", "rows": [{"entity_id": "NO-SUCH", "status": "red"}]}
    assert viewer.post("/api/status", json=bad).status_code == 400
    good = {"request_id": "phone-entry-0002", "rows": [{"entity_id": household, "status": "red"}]}
    answer = viewer.post("/api/status", json=good).get_json()
    assert answer["applied"] == 1 and not answer["duplicate"]
    for wrong in ("short", "x" * 65, "has space in it", 12345678):
        refused = viewer.post("/api/status", json={**good, "request_id": wrong})
        assert refused.status_code == 400
        assert refused.get_json()["issues"][0]["field"] == "request_id"
    # the same id from another user is theirs
    store.create_user("second", "second-pass-2026", role="admin")
    other = app.test_client()
    token = store.create_token("second")
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert other.post("/api/status", json=good).get_json()["applied"] == 1
