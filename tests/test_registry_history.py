"""Backfill over the history endpoints as they really answer: HTML text, submission dates, and
the index's own facts (originalData, lastUpdateVersions, moduleLabels), against a real local
ClinicalTrials.gov (tests/registry_server.py) and a real SQLite file.

The real answer is `tests/fixtures/ctgov/history/NCT03690141.details-html.json` (`?history=true`:
the current record in HTML, and the history index).  Its v2 side, the same current record as
`/api/v2/studies` writes it, is the sample with the strings written by hand in
`tests/test_markup.py` (SAMPLE_V2).  No real `/history/{v}` body exists: the newest version is
the sample's study itself (the current record, HTML like every history answer); the earlier ones
are made from it with only what the real index says differed (see `sample_versions`).
"""

import copy
import json
import re
import sqlite3

import pytest
import yaml

from clirun import tw as run_cli
from registry_html import render_as_history
from registry_server import FIXTURES, RegistryServer, load_studies
from test_markup import SAMPLE, SAMPLE_V2
from trialwatch.ingest.errors import FetchError
from trialwatch.ingest.http import Registry
from trialwatch.ingest.record import content_hash
from trialwatch.ingest.registry import HistorySource, api_study
from trialwatch.snapshots.store.codec import register
from trialwatch.snapshots.store.store import Store

NCT = "NCT03690141"
METADATA = FIXTURES.parent.parent.parent / "snapshots" / "datasette" / "metadata.yml"
INDEX = SAMPLE["history"]
HTML_LEFT = re.compile(r"<[A-Za-z/!]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def _set(study: dict, path: str, value) -> None:
    """Set a value at a path like `protocolSection.conditionsModule.conditions[0]`."""
    keys = [int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", path)]
    node = study
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


def sample_v2() -> dict:
    """The real sample's current record as `/api/v2/studies/NCT03690141` writes it."""
    study = copy.deepcopy(SAMPLE["study"])
    for path, value in SAMPLE_V2.items():
        _set(study, path, value)
    return study


def sample_versions() -> dict[int, dict]:
    """Version bodies (HTML, as the history answers write them): the newest is the real current
    record; each earlier one is it with only what the real index says differed then: the status
    of `changes[v].status`, the first-registered primary outcomes (`originalData`) before version
    5 and enrollment before version 7 (`lastUpdateVersions`), and its submission date.  The
    public posting dates of versions 0–8 are unknown: they carry none."""
    current = SAMPLE["study"]
    versions = {}
    for entry in INDEX["changes"]:
        number = entry["version"]
        study = copy.deepcopy(current)
        if number < len(INDEX["changes"]) - 1:
            status = study["protocolSection"]["statusModule"]
            status["overallStatus"] = entry["status"]
            status["lastUpdateSubmitDate"] = entry["date"]
            del status["lastUpdatePostDateStruct"]
            if number < INDEX["lastUpdateVersions"]["primaryOutcomes"]:
                study["protocolSection"]["outcomesModule"]["primaryOutcomes"] = copy.deepcopy(
                    INDEX["originalData"]["primaryOutcomes"]
                )
            if number < INDEX["lastUpdateVersions"]["enrollmentInfo"]:
                study["protocolSection"]["designModule"]["enrollmentInfo"] = dict(
                    INDEX["originalData"]["enrollmentInfo"]
                )
        versions[number] = study
    return versions


@pytest.fixture
def server():
    with RegistryServer({NCT: sample_v2()}) as running:
        running.histories[NCT] = copy.deepcopy(SAMPLE)
        for number, study in sample_versions().items():
            running.history_versions[(NCT, number)] = study
        yield running


def tw(db, server, *args):
    return run_cli(db, *args, url=server.url)


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        register(conn)  # trialwatch_record(): records are stored compressed
        return conn.execute(sql, params).fetchall()


def canned(name: str) -> str:
    return yaml.safe_load(METADATA.read_text())["databases"]["trialwatch"]["queries"][name]["sql"]


# -- text: the newest history version equals the API v2 record of the same version -------------


def test_the_newest_version_and_the_api_record_hash_equal(server):
    with Registry(server.url, rate=None) as registry:
        version = HistorySource(registry).version(NCT, 9)
        api = api_study(registry.study(NCT), "api")
    assert version.record == api.record
    assert content_hash(version.record) == content_hash(api.record)
    # The raw input stays what the registry sent (HTML), so a better normaliser can rebuild it.
    assert "<ul><li>" in version.raw.decode("utf-8")


def test_every_text_of_a_backfilled_version_is_the_v2_form(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    for (record,) in query(db, "select trialwatch_record(id) from snapshots"):
        for value in re.findall(r'"(?:[^"\\]|\\.)*"', record):
            assert not HTML_LEFT.search(json.loads(value)), value


def test_zero_changes_where_the_newest_version_meets_the_api_record(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "ingest", NCT).exit_code == 0
    result = tw(db, server, "backfill", NCT)
    assert result.exit_code == 0, result.output
    # A version is a snapshot only where it changes what is known (a version that differs in its
    # submission date alone is a check); version 9 is the API's own snapshot, which now starts
    # where the registry says that state began.
    assert "10 versions fetched (1 new, 3 changed, 6 unchanged)" in result.stderr
    history = json.loads(tw(db, server, "history", NCT, "--format", "json").stdout)
    written = [entry for entry in INDEX["changes"] if entry["version"] in (0, 1, 5, 7)]
    assert [(h["source_kind"], h["source_version"], h["observed_at"][:10]) for h in history] == [
        ("ctgov history", entry["version"], entry["date"]) for entry in written
    ] + [("ctgov api", None, "2020-04-27")]
    changes = json.loads(tw(db, server, "diff", NCT, "--format", "json").stdout)
    by_date = {}
    for change in changes:
        by_date.setdefault(change["observed_at"][:10], []).append(change["field"])
    assert by_date == {
        "2018-10-16": ["status"],
        "2019-01-18": ["outcomes.primary"],
        "2019-07-16": ["status", "enrollment"],
        "2020-04-27": ["status"],  # COMPLETED: the only change at the seam
    }
    (outcome,) = [c for c in changes if c["field"] == "outcomes.primary"]
    assert "RECIST 1.1" in json.dumps(outcome["old"]) and "iRECIST 1.1" in json.dumps(outcome["new"])
    assert "<li>" not in json.dumps(outcome, ensure_ascii=False)


def test_the_api_record_after_a_backfill_is_unchanged(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    ingested = tw(db, server, "ingest", NCT)
    assert ingested.exit_code == 0 and "1 unchanged" in ingested.stderr
    assert query(db, "select count(*) from changes where observed_utc >= '2020'") == [(1,)]  # COMPLETED alone


@pytest.mark.parametrize("twice", [False, True], ids=["escaped-once", "escaped-twice"])
def test_the_25_real_v2_records_rendered_as_history_meet_their_api_record_with_no_change(tmp_path, twice):
    """The reverse direction: each real v2 record, written as the history endpoints write it, is
    its only version; backfilled after the API record it is the same snapshot, no change."""
    studies = load_studies()
    db = tmp_path / "tw.db"
    with RegistryServer(studies) as server:
        for nct_id, study in studies.items():
            status = study["protocolSection"]["statusModule"]
            html = render_as_history(study, twice=twice)
            server.histories[nct_id] = {
                "study": html,
                "history": {
                    "changes": [
                        {
                            "version": 0,
                            "date": status.get("lastUpdateSubmitDate", "2020-01-02"),
                            "status": status["overallStatus"],
                            "moduleLabels": [],
                        }
                    ]
                },
            }
            server.history_versions[(nct_id, 0)] = html
        assert tw(db, server, "ingest", *sorted(studies)).exit_code == 0
        result = tw(db, server, "backfill", *sorted(studies))
    assert result.exit_code == 0, result.output
    assert "25 trials: 25 versions fetched (0 new, 0 changed, 25 unchanged)" in result.stderr
    assert query(db, "select count(*), sum(change_count) from snapshots") == [(25, 0)]
    assert query(db, "select count(*) from changes") == [(0,)]


def test_reparse_mends_versions_backfilled_before_history_text_was_normalised(tmp_path, server):
    """A database whose versions were stored with their HTML text (as before this release): the
    API record meeting them showed false text changes; `reparse` rebuilds them from the raw input."""
    from trialwatch.ingest.ctgov import map_study

    db = tmp_path / "tw.db"
    store = Store(str(db))
    html = SAMPLE["study"]
    store.save(
        map_study(html),
        observed_utc="2020-04-27T00:00:00+00:00",
        source_kind="ctgov history",
        source_ref=f"{server.url}/api/int/studies/{NCT}/history/9",
        raw=json.dumps(html).encode("utf-8"),
        source_version=9,
    )
    false = store.save(api_study(sample_v2(), "api").record, source_kind="ctgov api")
    assert false.outcome == "changed" and len(false.changes) >= 5  # description, outcomes, design…
    store.close()
    result = tw(db, server, "reparse", NCT)
    assert result.exit_code == 0, result.output
    assert query(db, "select count(*) from changes") == [(0,)]
    assert len({row[0] for row in query(db, "select content_hash from snapshots")}) == 1


# -- the index: first-registered values and the versions' labels, one request -------------------


def test_the_index_is_read_with_one_request_and_normalised(server):
    with Registry(server.url, rate=None) as registry:
        index = HistorySource(registry).index(NCT)
        assert registry.requests_made == 1
    assert [(v["version"], v["date"], v["status"]) for v in index.versions][-1] == (9, "2020-04-27", "COMPLETED")
    assert [v["version"] for v in index.versions if "Outcome Measures" in v["moduleLabels"]] == [5]
    first = index.first_registered
    assert first["primary_outcomes"] == [
        {
            "measure": "Anti-tumor response as defined by a patient achieving either of the following outcomes:",
            "time_frame": "52 weeks",
            "description": "* A ≥50% PSA decline from baseline at any time point after therapy and maintained for "
            "≥4 weeks\n* Objective response according to RECIST 1.1",
        }
    ]
    assert first["primary_outcomes_same"] is False
    # `secondaryOutcomesSame: true`: the first-registered ones are the current ones, from the
    # same answer's study (normalised).
    assert first["secondary_outcomes_same"] is True
    assert first["secondary_outcomes"] == index.current["outcomes"]["secondary"]
    assert (
        first["secondary_outcomes"][0]["description"]
        == SAMPLE_V2["protocolSection.outcomesModule.secondaryOutcomes[0].description"]
    )
    assert (first["other_outcomes"], first["other_outcomes_same"]) == (None, None)
    assert (first["enrollment"], first["enrollment_count_same"]) == ({"count": 30, "type": "ESTIMATED"}, False)
    assert index.last_update_versions == {
        "outcomes": 5,
        "primaryOutcomes": 5,
        "secondaryOutcomes": 0,
        "enrollmentInfo": 7,
    }
    assert index.outcomes_update_count == 1
    assert index.current == api_study(sample_v2(), "api").record


def test_the_index_is_stored_and_queryable_in_sql(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT, "--modules", "Outcome Measures").exit_code == 0
    assert [v for (v,) in query(db, "select source_version from snapshots order by observed_utc")] == [0, 5, 9]
    (row,) = query(
        db,
        "select version_count, latest_version, first_version_date, latest_version_date, outcomes_update_count, "
        "outcomes_last_version, primary_outcomes_last_version, secondary_outcomes_last_version, "
        "enrollment_last_version, primary_outcomes_same, secondary_outcomes_same, original_enrollment_count, "
        "original_enrollment_type, enrollment_count_same, "
        "json_extract(original_primary_outcomes, '$[0].description') from trial_history where nct_id = ?",
        NCT,
    )
    assert row == (
        10,
        9,
        "2018-09-27",
        "2020-04-27",
        1,
        5,
        5,
        0,
        7,
        0,
        1,
        30,
        "ESTIMATED",
        0,
        "* A ≥50% PSA decline from baseline at any time point after therapy and maintained for ≥4 weeks\n"
        "* Objective response according to RECIST 1.1",
    )
    assert json.loads(query(db, "select original_data from trial_history")[0][0]) == INDEX["originalData"]
    versions = query(db, "select version, date, status, module_labels from history_versions order by version")
    assert [(v, d, s, json.loads(labels)) for v, d, s, labels in versions] == [
        (c["version"], c["date"], c["status"], c["moduleLabels"]) for c in INDEX["changes"]
    ]
    touching = "select v.version from history_versions v, json_each(v.module_labels) l where l.value = ?"
    assert query(db, touching, "Outcome Measures") == [(5,)]
    assert [v for (_, v, *_) in query(db, canned("versions_touching"), "  eligibility ")] == [5]
    (changed,) = query(db, canned("outcomes_changed_since_registration"))
    assert changed[0] == NCT and changed[3] == 5
    assert "iRECIST" in changed[5] and "iRECIST" not in changed[4]


def test_the_store_reads_the_index_back(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    store = Store(str(db))
    trial = store.registry_history.trial(NCT)
    assert trial["primary_outcomes_same"] is False and trial["secondary_outcomes_same"] is True
    assert trial["last_update_versions"] == INDEX["lastUpdateVersions"]
    assert trial["original_secondary_outcomes"][0]["measure"].startswith("PSA progression-free survival")
    versions = store.registry_history.versions(NCT)
    assert [v["module_labels"] for v in versions] == [c["moduleLabels"] for c in INDEX["changes"]]
    assert store.registry_history.trial("NCT00000000") is None
    store.close()


def test_a_second_read_replaces_the_index(tmp_path, server):
    db = tmp_path / "tw.db"
    assert tw(db, server, "backfill", NCT).exit_code == 0
    answer = server.histories[NCT]
    answer["history"]["changes"].append(
        {
            "version": 10,
            "date": "2023-07-28",
            "status": "COMPLETED",
            "moduleLabels": ["Study Status"],
            "reviewNotPassed": True,
        }
    )
    server.history_versions[(NCT, 10)] = SAMPLE["study"]
    assert tw(db, server, "backfill", NCT).exit_code == 0
    assert query(db, "select version_count, latest_version, latest_version_date from trial_history") == [
        (11, 10, "2023-07-28")
    ]
    assert query(db, "select version, review_not_passed from history_versions where version >= 9") == [
        (9, None),
        (10, 1),
    ]


def test_an_index_about_another_trial_is_refused(tmp_path, server):
    other = copy.deepcopy(SAMPLE)
    other["study"]["protocolSection"]["identificationModule"]["nctId"] = "NCT09999999"
    server.histories[NCT] = other
    with Registry(server.url, rate=None) as registry, pytest.raises(FetchError, match="answered with another trial"):
        HistorySource(registry).index(NCT)


# -- dates: the registry dates versions by submission; the public date stays on the record -------


def test_a_version_is_observed_on_its_submission_day_and_public_on_its_posting_day(tmp_path):
    """NCT05147467 with two versions submitted 2021-11-24 and 2021-12-20 and posted three days
    later: the timeline follows the registry's dates; "public on a day" follows the posting."""
    base = json.loads((FIXTURES / "studies" / "NCT05147467.json").read_text())

    def version(submitted, posted, status):
        study = copy.deepcopy(base)
        module = study["protocolSection"]["statusModule"]
        module.update(overallStatus=status, lastUpdateSubmitDate=submitted)
        module["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}
        return study

    first = version("2021-11-24", "2021-11-29", "NOT_YET_RECRUITING")
    second = version("2021-12-20", "2021-12-23", "RECRUITING")
    db = tmp_path / "tw.db"
    with RegistryServer({"NCT05147467": second}) as server:
        server.histories["NCT05147467"] = {
            "history": {
                "changes": [
                    {"version": 0, "date": "2021-11-24", "status": "NOT_YET_RECRUITING", "moduleLabels": []},
                    {"version": 1, "date": "2021-12-20", "status": "RECRUITING", "moduleLabels": ["Study Status"]},
                ]
            }
        }
        server.history_versions[("NCT05147467", 0)] = first
        server.history_versions[("NCT05147467", 1)] = second
        assert tw(db, server, "backfill", "NCT05147467").exit_code == 0
        history = json.loads(tw(db, server, "history", "NCT05147467", "--format", "json").stdout)
        assert [(h["observed_at"], h["last_updated"]) for h in history] == [
            ("2021-11-24T00:00:00+00:00", "2021-11-29"),
            ("2021-12-20T00:00:00+00:00", "2021-12-23"),
        ]
        # On 2021-12-21 the registry held version 1 (submitted), but the public saw version 0.
        held = json.loads(tw(db, server, "show", "NCT05147467", "--at", "2021-12-21", "--format", "json").stdout)
        assert held["status"] == "RECRUITING"
    public = query(db, canned("public_on"), "nct05147467", "2021-12-21")
    assert [(row[2], row[6]) for row in public] == [("2021-11-29", "NOT_YET_RECRUITING")]
    assert [row[6] for row in query(db, canned("public_on"), "NCT05147467", "2021-12-23")] == ["RECRUITING"]
    assert query(db, canned("public_on"), "NCT05147467", "2021-11-28") == []
