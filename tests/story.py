"""A trial's history as a story in time, for the reports, the picture and the feeds.

The hand-made API record of the seed trial (tests/fixtures/ctgov/constructed/NCT06731192.json)
edited six times over a year and ingested as API files observed on those dates: it starts
recruiting (its start date becoming actual), its planned completion dates slip, enrollment
rises then falls, its primary outcome's time frame and an eligibility criterion are reworded,
it is suspended with a reason and resumes.  `python tests/story.py` rewrites the README's
picture (docs/timeline.svg); tests/test_picture.py checks it is current.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NCT = "NCT06731192"
CONSTRUCTED = ROOT / "tests" / "fixtures" / "ctgov" / "constructed" / f"{NCT}.json"
README_PICTURE = ROOT / "docs" / "timeline.svg"
UNTIL = "2025-11-29T00:00:00+00:00"  # the picture's right edge: "now" for the story
WHY_STOPPED = (
    "Enrollment paused while the data safety monitoring board reviews two infusion reactions; "
    "the protocol will be amended"
)
OLD_TIME_FRAME = "Baseline and 12 months after the first infusion"
NEW_TIME_FRAME = "Baseline and 24 months after the first infusion"
OLD_CRITERION = "* No history of infectious diseases within 1 week before treatment;"
NEW_CRITERION = "* No history of infectious diseases within 4 weeks before treatment;"


def _dates(status: dict, start=None, primary=None, completion=None) -> None:
    for key, value in (("startDateStruct", start), ("primaryCompletionDateStruct", primary)):
        if value:
            status[key] = {"date": value[0], "type": value[1]}
    if completion:
        status["completionDateStruct"] = {"date": completion[0], "type": completion[1]}


def versions() -> list[tuple[str, dict]]:
    """(observed instant, API study) for each version of the story, oldest first."""
    study = json.loads(CONSTRUCTED.read_text(encoding="utf-8"))
    out = [("2024-12-31T12:00:00+00:00", copy.deepcopy(study))]

    def step(when: str, last_updated: str, edit) -> None:
        nonlocal study
        study = copy.deepcopy(study)
        protocol = study["protocolSection"]
        protocol["statusModule"]["lastUpdatePostDateStruct"] = {"date": last_updated, "type": "ACTUAL"}
        edit(protocol)
        out.append((when, study))

    def recruiting(p):
        p["statusModule"]["overallStatus"] = "RECRUITING"
        _dates(p["statusModule"], start=("2025-02-10", "ACTUAL"))

    def slipped(p):
        _dates(p["statusModule"], primary=("2028-06", "ESTIMATED"), completion=("2029-06", "ESTIMATED"))
        p["designModule"]["enrollmentInfo"] = {"count": 60, "type": "ESTIMATED"}
        p["outcomesModule"]["primaryOutcomes"][0]["timeFrame"] = NEW_TIME_FRAME

    def reworded(p):
        module = p["eligibilityModule"]
        module["eligibilityCriteria"] = module["eligibilityCriteria"].replace(OLD_CRITERION, NEW_CRITERION)
        _dates(p["statusModule"], completion=("2029-12", "ESTIMATED"))

    def suspended(p):
        p["statusModule"]["overallStatus"] = "SUSPENDED"
        p["statusModule"]["whyStopped"] = WHY_STOPPED

    def resumed(p):
        p["statusModule"]["overallStatus"] = "RECRUITING"
        p["statusModule"].pop("whyStopped", None)
        _dates(p["statusModule"], primary=("2028-12", "ESTIMATED"))
        p["designModule"]["enrollmentInfo"] = {"count": 48, "type": "ESTIMATED"}

    step("2025-02-14T09:00:00+00:00", "2025-02-13", recruiting)
    step("2025-05-06T09:00:00+00:00", "2025-05-05", slipped)
    step("2025-07-22T09:00:00+00:00", "2025-07-21", reworded)
    step("2025-09-30T09:00:00+00:00", "2025-09-29", suspended)
    step("2025-11-18T09:00:00+00:00", "2025-11-17", resumed)
    return out


def ingest_story(db, folder: Path, tw, upto: int | None = None) -> list[str]:
    """Ingest the story's versions (the first `upto`) into `db` with `tw` (tests/clirun.tw);
    returns their observed instants."""
    folder.mkdir(parents=True, exist_ok=True)
    seen = []
    for index, (when, study) in enumerate(versions()[:upto]):
        path = folder / f"{NCT}.v{index}.json"
        path.write_text(json.dumps(study), encoding="utf-8")
        result = tw(db, "ingest", path, "--observed-at", when)
        assert result.exit_code == 0, result.output
        seen.append(when)
    return seen


def write_readme_picture(target: Path = README_PICTURE) -> Path:
    """The README's timeline picture, drawn by trialwatch from the story."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from clirun import tw
    from trialwatch.snapshots.reports.picture import render_timeline
    from trialwatch.snapshots.store.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "story.db"
        ingest_story(db, Path(tmp) / "story", tw)
        store = Store(str(db), create=False)
        data = render_timeline(store.reading, NCT, "svg", until=UNTIL)
        store.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


if __name__ == "__main__":
    print(write_readme_picture())
