"""Development areas and the programme's themes as data: a branch adopts its areas for a
round, applications pick from them (and add their own) and are tagged with themes, and
programme management reports by area, theme and region (JSON and CSV)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.integration.registration_app import (
    AGDER,
    OBSERVER,
    PROGRAMME,
    ROUND,
    VESTLAND,
    Registration,
    complete_group,
    draft,
    registration_fixture,  # noqa: F401
    short,
    submission,
)
from tests.integration.support import data_of, headers_of

pytestmark = pytest.mark.integration

AREAS = f"/rounds/{ROUND}/branches/vestland/development-areas"


async def test_applications_pick_the_branchs_areas_and_are_reported_by_area_theme_and_region(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round()
    # The board of another branch may not; Vestland's own board may (and says it its way).
    other = await app.client.put(AREAS, json={"areas": ["Inkludering"]}, headers=AGDER)
    assert other.status_code == 403, other.text
    response = await app.client.put(
        AREAS, json={"areas": ["Inkludering", " Samskaping ", "inkludering"]}, headers=VESTLAND
    )
    assert response.status_code == 200, response.text
    adopted = response.json()["result"]
    assert (adopted["areas"], adopted["branch_name"]) == (["Inkludering", "Samskaping"], "Vestland")
    listed = await app.get(f"/rounds/{ROUND}/development-areas", OBSERVER)
    assert {b["branch_id"]: b["areas"] for b in listed}["vestland"] == ["Inkludering", "Samskaping"]
    assert {b["branch_id"]: b["areas"] for b in listed}["agder"] == []
    assert await app.get("/themes") == ["medvirkning", "bærekraft", "innovasjon", "samskaping"]

    # An area the branch has not adopted is refused, with where it belongs instead.
    await app.refused(
        "/application-drafts",
        {**draft("4601", complete_group()), "development_areas": ["samskaping", "Kulturarv"]},
        VESTLAND,
        422,
        "Kulturarv is not among the development areas Vestland has adopted",
        "own_development_areas",
    )
    await app.refused(
        "/application-drafts",
        {**draft("4601", complete_group()), "themes": ["kunst"]},
        VESTLAND,
        422,
    )
    for number, picked, own, themes in (
        ("4601", ["samskaping"], ["Kulturarv"], ["medvirkning", "bærekraft"]),
        ("4640", ["Inkludering", "Samskaping"], ["kulturarv"], ["medvirkning"]),
    ):
        await app.accepted(
            "/application-drafts",
            {
                **draft(number, complete_group()),
                "development_areas": picked,
                "own_development_areas": own,
                "themes": themes,
            },
            VESTLAND,
        )
        await app.accepted("/application-submissions", submission(number), VESTLAND)
    bergen = await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME)
    assert (bergen["development_areas"], bergen["own_development_areas"], bergen["themes"]) == (
        ["Samskaping"],  # in the branch's words
        ["Kulturarv"],
        ["medvirkning", "bærekraft"],
    )
    submitted = [
        data_of(r)
        for r in await app.published(app.events)
        if short(headers_of(r)["ce_type"]) == "application-submitted.v1"
    ]
    assert [
        (e["development_areas"], e["own_development_areas"], e["themes"]) for e in submitted
    ] == [
        (["Samskaping"], ["Kulturarv"], ["medvirkning", "bærekraft"]),
        (["Inkludering", "Samskaping"], ["kulturarv"], ["medvirkning"]),
    ]

    refused = await app.client.get(f"/rounds/{ROUND}/development-report", headers=VESTLAND)
    assert refused.status_code == 403
    report = await app.get(f"/rounds/{ROUND}/development-report", PROGRAMME)
    assert report["applications"] == 2
    by_area = {t["name"]: t["applications"] for t in report["development_areas"]}
    assert by_area == {"Samskaping": 2, "Inkludering": 1}
    # Own areas in other letter case are one area.
    assert [(t["name"], t["applications"]) for t in report["own_development_areas"]] == [
        ("Kulturarv", 2)
    ]
    themes = {t["name"]: (t["applications"], t["by_region"]) for t in report["themes"]}
    assert themes["medvirkning"] == (2, {"Vestland": 2})
    assert themes["innovasjon"] == (0, {})
    [vestland] = report["regions"]
    assert (vestland["branch_name"], vestland["themes"]) == (
        "Vestland",
        {"medvirkning": 2, "bærekraft": 1},
    )

    response = await app.client.get(
        f"/rounds/{ROUND}/development-report.csv?delimiter=semicolon", headers=PROGRAMME
    )
    assert response.status_code == 200
    assert response.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["region", "fylke", "kommunenummer", "kommune", "status", "type", "verdi"]
    assert ["Vestland", "Vestland", "4601", "Bergen", "submitted", "tema", "bærekraft"] in lines
    assert [
        "Vestland",
        "Vestland",
        "4640",
        "Sogndal",
        "submitted",
        "eget utviklingsområde",
        "kulturarv",
    ] in lines
    assert len(lines) == 1 + 4 + 4
