"""The timeline picture: `trialwatch timeline` draws status periods, planned dates as believed
(estimated dashed, actual solid), enrollment and change markers, checked in the SVG itself;
and the README's picture is the one the tool draws from the story (tests/story.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from clirun import tw
from story import NCT, README_PICTURE, UNTIL, ingest_story, write_readme_picture

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("picture")
    db = folder / "tw.db"
    ingest_story(db, folder / "files", tw)
    return db


def ids(svg: str) -> list[str]:
    return [element.get("id") for element in ET.fromstring(svg).iter() if element.get("id")]


def texts(svg: str) -> list[str]:
    return [" ".join("".join(e.itertext()).split()) for e in ET.fromstring(svg).iter(f"{SVG}text")]


def dash(svg: str, gid: str) -> str | None:
    """The stroke-dasharray of the line drawn in the group with this id (None: solid)."""
    group = next(e for e in ET.fromstring(svg).iter() if e.get("id") == gid)
    path = next(group.iter(f"{SVG}path"))
    found = re.search(r"stroke-dasharray: ([^;]+)", path.get("style") or "")
    return found.group(1) if found else None


def test_the_picture_shows_the_story(db, tmp_path):
    target = tmp_path / "story.svg"
    result = tw(db, "timeline", NCT, "-o", target)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{NCT}: timeline written to {target}\n"
    svg = target.read_text()
    found = ids(svg)
    # Status as coloured periods, in order.
    statuses = [i.split("-", 2)[2] for i in found if re.match(r"status-\d+-", i)]
    assert statuses == ["NOT_YET_RECRUITING", "RECRUITING", "SUSPENDED", "RECRUITING"]
    # Planned dates as believed: the start estimated then actual; primary completion slipping twice.
    assert "planned-start_date-0-estimated" in found and "planned-start_date-1-actual" in found
    assert dash(svg, "planned-start_date-0-estimated") and dash(svg, "planned-start_date-1-actual") is None
    primary = [i for i in found if i.startswith("planned-primary_completion_date-") and i.endswith("-estimated")]
    assert len(primary) == 3
    assert len([i for i in found if i.startswith("planned-primary_completion_date-") and i.endswith("moved")]) == 2
    assert "planned-completion_date-label" in found and "planned-observation-day" in found
    # Enrollment 40 → 60 → 48, each value written where it starts.
    assert [i for i in found if re.match(r"enrollment-\d+-estimated$", i)] == [
        "enrollment-0-estimated",
        "enrollment-1-estimated",
        "enrollment-2-estimated",
    ]
    words = texts(svg)
    assert {"40", "60", "48"} <= set(words)
    # A marker per snapshot with changes, by its gravest change; a tick at every snapshot.
    assert [i for i in found if re.match(r"change-\d+-(critical|notable|minor)$", i)] == [
        "change-0-notable",
        "change-1-critical",
        "change-2-notable",
        "change-3-critical",
        "change-4-notable",
    ]
    assert [i for i in found if i.startswith("snapshot-")] == [
        "snapshot-0-2024-12-31",
        "snapshot-1-2025-02-14",
        "snapshot-2-2025-05-06",
        "snapshot-3-2025-07-22",
        "snapshot-4-2025-09-30",
        "snapshot-5-2025-11-18",
    ]
    assert f"{NCT} Human Umbilical Cord Mesenchymal Stem Cells for Alport Syndrome" in words
    assert "2025-05-06" in words and "recruiting" in words and "legend" in found


def test_png_html_and_stdout(db, tmp_path):
    png = tmp_path / "t.png"
    assert tw(db, "timeline", NCT, "-o", png).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    page = tmp_path / "t.html"
    assert tw(db, "timeline", NCT, "-o", page).exit_code == 0
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and f"https://clinicaltrials.gov/study/{NCT}" in text
    result = tw(db, "timeline", NCT, "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("<?xml")


def test_several_trials_and_bad_requests(db, tmp_path):
    out = tmp_path / "pic.svg"
    assert tw(db, "timeline", NCT, "-o", out).exit_code == 0
    for args, message in (
        (["NCT00000001"], "NCT00000001: not in"),
        ([NCT, "-o", tmp_path / "x.pdf"], "write the picture to a .svg, .png or .html file"),
        ([NCT, NCT.replace("1192", "1193"), "-o", "-"], "give one NCT id"),
        (["NCT12"], "NCT12"),
    ):
        result = tw(db, "timeline", *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
        assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.pdf").exists()


def test_the_readme_picture_is_the_one_the_tool_draws(tmp_path):
    """docs/timeline.svg is drawn from the story; `python tests/story.py` redraws it.  With the
    matplotlib that drew it the bytes must match; with another, the same elements and words."""
    fresh = write_readme_picture(tmp_path / "timeline.svg").read_text()
    committed = README_PICTURE.read_text()
    stale = "docs/timeline.svg is stale: run `python tests/story.py`"
    version = re.search(r"Matplotlib v([\d.]+)", committed)
    import matplotlib

    if version and version.group(1) == matplotlib.__version__:
        assert fresh == committed, stale
    assert ids(fresh) == ids(committed) and texts(fresh) == texts(committed), stale
    assert len(committed) < 60_000  # small enough to commit
    assert UNTIL.startswith("2025-11-29")
