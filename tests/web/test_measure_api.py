"""/api/measure: a level's grids by a measure in graduated classes that tell them apart, a
ranking equal to a recount from the grids' own counts, history, refusals."""

from __future__ import annotations


def _counts(client, level: str) -> dict[str, dict]:
    layer = client.get(f"/api/grids?level={level}").get_json()
    return {f["id"]: f["properties"] for f in layer["features"]}


def test_aggregated_levels_fall_into_several_classes_ranked_as_recounted(viewer):
    for level in ("community", "big"):
        found = viewer.get(f"/api/measure?level={level}").get_json()
        assert found["statuses"] == ["red"] and found["measure"] == "households"
        grids = _counts(viewer, level)
        assert set(found["grids"]) == set(grids)
        used = {row[1] for row in found["grids"].values()}
        assert len(used) >= 3, found["classes"]  # at least three distinct fills
        # each value is the grid's red households; classes hold the grids counted
        for grid_id, (value, _) in found["grids"].items():
            assert value == grids[grid_id]["counts"].get("red", 0)
        assert sum(c["grids"] for c in found["classes"]) + found["zero"]["grids"] == len(grids)
        top = max(grids, key=lambda g: (grids[g]["counts"].get("red", 0), [-ord(ch) for ch in g]))
        assert found["ranking"][0]["id"] == top
        assert found["ranking"][0]["name"] == grids[top]["name"]
        values = [r["value"] for r in found["ranking"]]
        assert values == sorted(values, reverse=True)


def test_shares_and_other_methods_and_refusals(viewer):
    share = viewer.get("/api/measure?level=big&measure=share&status=red,yellow&method=natural")
    found = share.get_json()
    assert found["statuses"] == ["red", "yellow"]
    assert all(v is None or 0 <= v <= 1 for v, _ in found["grids"].values())
    fixed = viewer.get("/api/measure?level=big&method=fixed&bounds=5,10").get_json()
    assert [c["upto"] for c in fixed["classes"]][:2] == [5, 10]
    past = viewer.get("/api/measure?level=big&at=2000-01-01T00:00").get_json()
    assert past["seq"] == 0 and all(v == 0 for v, _ in past["grids"].values())
    for query, field in (
        ("measure=density", "measure"),
        ("method=magic", "method"),
        ("status=purple", "status"),
        ("classes=9", "classes"),
    ):
        answer = viewer.get(f"/api/measure?level=big&{query}")
        assert answer.status_code == 400, query
        assert answer.get_json()["issues"][0]["field"] == field
