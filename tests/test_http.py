"""ingest.http against a real HTTP server on 127.0.0.1 serving the recorded real API answers."""

import json
import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from registry_server import FIXTURES, RegistryServer, load_studies, synthetic_studies
from trialwatch.ingest.errors import FetchError, InputError
from trialwatch.ingest.http import Registry, retry_after_seconds, user_agent, validate_search_params

STUDIES = load_studies()
IDS = sorted(STUDIES)
MISSING = "NCT09999999"


@pytest.fixture
def server():
    with RegistryServer(STUDIES) as running:
        yield running


def registry_for(server, **options):
    settings = {"rate": None, "timeout": 5.0, "max_tries": 5, "backoff": 0.01}
    return Registry(server.url, **{**settings, **options})


def batch_ids(seen):
    return seen.params["filter.ids"].split(",")


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the session ---------------------------------------------------------------------------


def test_user_agent_and_a_timeout_on_every_request(server, monkeypatch):
    registry = registry_for(server, timeout=7.5)
    timeouts = []
    real_get = registry.session.get
    monkeypatch.setattr(
        registry.session, "get", lambda *a, **kw: timeouts.append(kw.get("timeout")) or real_get(*a, **kw)
    )
    server.pages["/study/x"] = (b"<html>page</html>", "text/html")
    server.histories[IDS[0]] = {"history": {"changes": []}}
    server.history_versions[(IDS[0], 0)] = STUDIES[IDS[0]]

    registry.study(IDS[0])
    list(registry.studies(IDS[:3]))
    list(registry.search({"query.cond": "cancer"}))
    registry.version()
    registry.fetch_url(server.url_for("/study/x"))
    registry.history(IDS[0])
    registry.history_version(IDS[0], 0)

    assert timeouts == [7.5] * 7 == [7.5] * registry.requests_made
    agents = {seen.headers["User-Agent"] for seen in server.log}
    assert agents == {user_agent()}
    assert user_agent().startswith("trialwatch/0.1.0 (+https://github.com/trialwatch/trialwatch)")


def test_base_url_must_be_http_and_may_end_in_a_slash(server):
    for bad in ("file:///etc/passwd", "ftp://clinicaltrials.gov", "clinicaltrials.gov", "", "http://"):
        with pytest.raises(InputError, match="not an http"):
            Registry(bad)
    registry = Registry(server.url + "/", rate=None)
    assert registry.study(IDS[0]) == STUDIES[IDS[0]]
    assert server.hits[f"/api/v2/studies/{IDS[0]}"] == 1


def test_fetch_url_needs_http_and_returns_body_and_content_type(server):
    registry = registry_for(server)
    with pytest.raises(InputError, match="not an http"):
        registry.fetch_url("file:///etc/passwd")
    assert registry.requests_made == 0
    server.pages["/study/NCT06731192"] = ("<p>Trial – ü</p>".encode(), "text/html; charset=utf-8")
    assert registry.fetch_url(server.url_for("/study/NCT06731192")) == (
        "<p>Trial – ü</p>".encode(),
        "text/html; charset=utf-8",
    )
    with pytest.raises(FetchError, match=r"not found \(HTTP 404\)"):
        registry.fetch_url(server.url_for("/study/nothing"))


# -- single study, version, history -------------------------------------------------------


def test_study_returns_the_recorded_object(server):
    registry = registry_for(server)
    assert registry.study(IDS[3].lower()) == STUDIES[IDS[3]]
    assert registry.requests_made == 1


def test_study_404_is_a_fetch_error_naming_the_trial_and_not_retried(server):
    registry = registry_for(server)
    with pytest.raises(FetchError) as caught:
        registry.study(MISSING)
    assert str(caught.value) == f"{MISSING}: ClinicalTrials.gov has no such trial (HTTP 404)"
    assert caught.value.nct_id == MISSING
    assert server.hits[f"/api/v2/studies/{MISSING}"] == 1


def test_bad_id_is_an_input_error_before_any_request(server):
    registry = registry_for(server)
    with pytest.raises(InputError):
        registry.study("NCT123")
    with pytest.raises(InputError):
        registry.studies([IDS[0], "12345678"])
    assert registry.requests_made == 0


def test_an_alias_is_redirected_to_its_trial(server):
    study = json.loads(json.dumps(STUDIES[IDS[0]]))
    study["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT01111111"]
    server.studies[IDS[0]] = study
    registry = registry_for(server)
    assert registry.study("NCT01111111") == study
    assert dict(registry.studies(["NCT01111111", IDS[1]])) == {"NCT01111111": study, IDS[1]: STUDIES[IDS[1]]}


def test_version_and_history(server):
    history = json.loads((FIXTURES / "history" / "NCT03690141.history.json").read_text())
    server.histories["NCT03690141"] = history
    server.history_versions[("NCT03690141", 2)] = STUDIES[IDS[0]]
    registry = registry_for(server)
    assert registry.version() == {"apiVersion": "2.0.5", "dataTimestamp": "2026-08-11T09:00:00"}
    assert registry.history("nct03690141") == history
    assert server.seen("/api/int/studies/NCT03690141")[0].params == {"history": "true"}
    assert registry.history_version("NCT03690141", 2) == {"studyVersion": 2, "study": STUDIES[IDS[0]]}
    with pytest.raises(FetchError, match="NCT03690141: ClinicalTrials.gov has no such trial"):
        registry.history_version("NCT03690141", 9)
    with pytest.raises(InputError):
        registry.history_version("NCT03690141", -1)


# -- batches -------------------------------------------------------------------------------


def test_25_ids_cost_exactly_one_request(server):
    registry = registry_for(server)
    got = dict(registry.studies(IDS))
    assert got == STUDIES and len(got) == 25
    assert registry.requests_made == 1
    assert list(server.hits) == ["/api/v2/studies"]
    (seen,) = server.log
    assert sorted(batch_ids(seen)) == IDS and seen.params["pageSize"] == "1000"
    assert "pageToken" not in seen.params


def test_a_batch_follows_next_page_token(server):
    server.page_size = 10
    registry = registry_for(server)
    assert dict(registry.studies(IDS)) == STUDIES
    seen = server.seen("/api/v2/studies")
    assert len(seen) == 3 == registry.requests_made
    assert [request.params.get("pageToken") for request in seen] == [None, "tok10", "tok20"]
    assert all(sorted(batch_ids(request)) == IDS for request in seen)


def test_2500_ids_cost_3_requests_of_at_most_1000(server):
    server.studies = synthetic_studies(2500, template=STUDIES["NCT00973089"])
    registry = registry_for(server)
    got = dict(registry.studies(list(server.studies)))
    assert len(got) == 2500 and all(isinstance(study, dict) for study in got.values())
    seen = server.seen("/api/v2/studies")
    assert [len(batch_ids(request)) for request in seen] == [1000, 1000, 500]
    assert registry.requests_made == 3 and len(server.hits) == 1


def test_10000_ids_cost_10_requests(server):
    server.studies = synthetic_studies(10_000)
    registry = registry_for(server)
    ids = list(server.studies)
    results = list(registry.studies(ids + ids[:5]))  # duplicates asked once
    assert [nct_id for nct_id, _ in results] == ids
    assert registry.requests_made == 10 == server.hits["/api/v2/studies"]


def test_a_404_in_the_middle_of_a_batch_names_that_trial_and_the_others_arrive(server):
    registry = registry_for(server)
    asked = IDS[:12] + [MISSING] + IDS[12:]
    results = dict(registry.studies(asked))
    assert set(results) == set(asked)
    error = results.pop(MISSING)
    assert isinstance(error, FetchError) and error.nct_id == MISSING
    assert str(error) == f"{MISSING}: ClinicalTrials.gov has no such trial (HTTP 404)"
    assert results == STUDIES
    assert server.hits == {"/api/v2/studies": 1, f"/api/v2/studies/{MISSING}": 1}


def test_a_trial_the_batch_drops_is_fetched_on_its_own(server):
    server.batch_drops.add(IDS[5])
    registry = registry_for(server)
    assert dict(registry.studies(IDS)) == STUDIES
    assert server.hits == {"/api/v2/studies": 1, f"/api/v2/studies/{IDS[5]}": 1}


def test_a_filter_in_extra_params_means_missing_ids_are_not_fetched(server):
    registry = registry_for(server)
    filter_ = "AREA[LastUpdatePostDate]RANGE[2000-01-01,MAX]"  # every fixture is newer
    results = dict(registry.studies(IDS[:3] + [MISSING], extra_params={"filter.advanced": filter_}))
    assert results == {nct_id: STUDIES[nct_id] for nct_id in IDS[:3]}
    assert server.hits == {"/api/v2/studies": 1}
    assert server.log[0].params["filter.advanced"] == filter_
    with pytest.raises(InputError, match="filter.ids"):
        registry.studies(IDS, extra_params={"filter.ids": "NCT00000001"})
    with pytest.raises(InputError, match="'filter.advance'"):
        registry.studies(IDS, extra_params={"filter.advance": filter_})


def test_a_failed_batch_gives_every_id_a_fetch_error_and_goes_on(server):
    server.page_size = 10
    server.fail(503, times=5, path="/api/v2/studies")
    registry = registry_for(server, max_tries=5)
    results = list(registry.studies(IDS))
    assert [nct_id for nct_id, _ in results] == IDS
    for nct_id, error in results:
        assert isinstance(error, FetchError) and error.nct_id == nct_id
        assert str(error).startswith(f"{nct_id}: batch of 25 trials")
        assert "gave up after 5 tries" in str(error) and "HTTP 503" in str(error)
    assert server.hits == {"/api/v2/studies": 5}


def test_a_batch_failing_on_its_second_page_keeps_the_first(server):
    server.page_size = 10
    registry = registry_for(server, max_tries=2)
    results = registry.studies(IDS)
    first = [next(results) for _ in range(10)]
    server.fail(503, times=2)
    rest = list(results)
    assert all(isinstance(study, dict) for _, study in first)
    assert len(rest) == 15 and all(isinstance(error, FetchError) for _, error in rest)
    assert {nct_id for nct_id, _ in first + rest} == set(IDS)


# -- search --------------------------------------------------------------------------------


def test_search_follows_pages_with_page_size_1000(server):
    server.page_size = 10
    registry = registry_for(server)
    found = list(registry.search({"query.term": "trial", "sort": ["LastUpdatePostDate", "NCTId"]}))
    assert found == list(STUDIES.values())  # the local server ignores query.term: every study, in pages of 10
    seen = server.seen("/api/v2/studies")
    assert len(seen) == 3
    assert seen[0].params == {"query.term": "trial", "sort": "LastUpdatePostDate,NCTId", "pageSize": "1000"}


def test_validate_search_params():
    assert validate_search_params({"query.term": "x", "countTotal": True, "sort": ["a", "b"]}) == {
        "query.term": "x", "countTotal": "true", "sort": "a,b",
    }  # fmt: skip
    with pytest.raises(InputError, match=r"unknown ClinicalTrials.gov search parameter 'query.condition'"):
        validate_search_params({"query.condition": "x"})
    with pytest.raises(InputError, match="'limit'"):
        validate_search_params({"limit": 5})


def test_400_is_an_input_error_with_the_api_message(server):
    server.fail(400, body="The query.term parameter is\n invalid: unbalanced ( at 12")
    registry = registry_for(server)
    with pytest.raises(InputError) as caught:
        list(registry.search({"query.term": "AREA[Phase](PHASE3"}))
    assert str(caught.value).endswith("(HTTP 400): The query.term parameter is invalid: unbalanced ( at 12")
    assert server.hits["/api/v2/studies"] == 1


# -- retries -------------------------------------------------------------------------------


def test_429_with_retry_after_twice_then_success(server):
    server.fail(429, times=2, retry_after=1)
    notes = []
    registry = registry_for(server, progress=notes.append)
    start = time.monotonic()
    assert registry.study(IDS[0]) == STUDIES[IDS[0]]
    assert time.monotonic() - start >= 2.0
    assert registry.requests_made == 3 == server.hits[f"/api/v2/studies/{IDS[0]}"]
    assert notes == [f"{IDS[0]}: HTTP 429; try 2 of 5 in 1.0 s", f"{IDS[0]}: HTTP 429; try 3 of 5 in 1.0 s"]


def test_503_burst_then_success(server):
    server.fail(503, times=3)
    registry = registry_for(server)
    assert dict(registry.studies(IDS)) == STUDIES
    assert registry.requests_made == 4 == server.hits["/api/v2/studies"]


def test_five_503s_give_a_fetch_error_after_exactly_five_tries(server):
    server.fail(503, times=10)
    registry = registry_for(server, max_tries=5)
    with pytest.raises(FetchError) as caught:
        registry.study(IDS[0])
    message = str(caught.value)
    assert message.startswith(f"{IDS[0]}: gave up after 5 tries (GET {server.url}/api/v2/studies/{IDS[0]})")
    assert message.endswith("HTTP 503") and caught.value.nct_id == IDS[0]
    assert server.hits[f"/api/v2/studies/{IDS[0]}"] == 5 == registry.requests_made


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_transient_statuses_are_retried(server, status):
    server.fail(status, times=1)
    registry = registry_for(server)
    assert registry.version()["apiVersion"] == "2.0.5"
    assert registry.requests_made == 2


def test_other_errors_are_not_retried(server):
    server.fail(401, times=1)
    registry = registry_for(server)
    with pytest.raises(FetchError, match="HTTP 401"):
        registry.version()
    assert registry.requests_made == 1


def test_a_slow_answer_is_retried_then_a_fetch_error(server):
    server.slow(1.0, times=3)
    registry = registry_for(server, timeout=0.2, max_tries=3)
    start = time.monotonic()
    with pytest.raises(FetchError, match=rf"{IDS[0]}: gave up after 3 tries .*: no answer within 0.2 s"):
        registry.study(IDS[0])
    assert time.monotonic() - start < 2.0
    assert server.hits[f"/api/v2/studies/{IDS[0]}"] == 3


def test_one_slow_answer_then_success(server):
    server.slow(1.0, times=1)
    registry = registry_for(server, timeout=0.2)
    assert registry.study(IDS[0]) == STUDIES[IDS[0]]
    assert registry.requests_made == 2


def test_connection_refused_is_a_fetch_error_after_max_tries():
    registry = Registry(f"http://127.0.0.1:{closed_port()}", rate=None, backoff=0.01, max_tries=3, timeout=2)
    with pytest.raises(FetchError, match=r"gave up after 3 tries.*connection failed: \[Errno \d+\] Connection refused"):
        registry.version()
    assert registry.requests_made == 3


# -- answers that are not JSON -------------------------------------------------------------


def test_a_body_cut_short_is_asked_once_more_then_not_json_and_not_stored(server):
    server.cut_short(times=1)
    registry = registry_for(server)
    assert registry.study(IDS[0]) == STUDIES[IDS[0]] and registry.requests_made == 2  # once more: served
    server.cut_short(times=2)
    with pytest.raises(FetchError, match=rf"^{IDS[0]}: answer is not JSON: .*application/json") as caught:
        registry.study(IDS[0])
    assert caught.value.nct_id == IDS[0] and caught.value.content
    assert registry.requests_made == 4


def test_html_with_200_is_not_json(server):
    server.html(times=2)
    registry = registry_for(server)
    with pytest.raises(FetchError, match=r"answer is not JSON: .*text/html.*'<!DOCTYPE html>"):
        registry.study(IDS[0])


def test_a_bad_answer_for_one_trial_fails_that_trial_alone_not_its_batch(server):
    """One record the registry cannot serve (every answer holding it is an HTML page): the batch
    of 1,000 is asked again, then split in halves down to that trial; the others are stored."""
    ids = sorted(synthetic_studies(1000, STUDIES[IDS[0]]))
    server.studies.update(synthetic_studies(1000, STUDIES[IDS[0]]))
    server.poisoned.add(ids[613])
    registry = registry_for(server)
    results = dict(registry.studies(ids))
    failed = [nct_id for nct_id, answer in results.items() if isinstance(answer, FetchError)]
    assert failed == [ids[613]] and "not JSON" in str(results[ids[613]])
    assert sum(isinstance(answer, dict) for answer in results.values()) == 999
    assert registry.requests_made <= 2 + 2 * 2 * 10  # each of ~10 halvings: a good half, a bad one asked twice


def test_a_batch_the_registry_cannot_answer_at_all_is_not_split(server):
    """A registry that is down fails the batch whole: splitting would only multiply requests."""
    server.fail(503, times=99, path="/api/v2/studies")
    registry = registry_for(server)
    results = dict(registry.studies(IDS))
    assert all(isinstance(error, FetchError) for error in results.values())
    assert registry.requests_made == registry.max_tries


def test_a_connection_dropped_mid_body_is_retried(server):
    server.cut_short(times=1, declare_full_length=True)
    registry = registry_for(server)
    assert registry.study(IDS[0]) == STUDIES[IDS[0]]
    assert registry.requests_made == 2
    server.cut_short(times=2, declare_full_length=True)
    registry = registry_for(server, max_tries=2)
    with pytest.raises(FetchError, match="gave up after 2 tries .*answer cut short"):
        registry.study(IDS[0])


# -- politeness and backoff ----------------------------------------------------------------


def test_rate_limit_spaces_requests_and_the_first_does_not_wait(server):
    registry = registry_for(server, rate=10)
    start = time.monotonic()
    registry.version()
    assert time.monotonic() - start < 0.09
    for _ in range(4):
        registry.version()
    assert time.monotonic() - start >= 0.4
    assert registry.requests_made == 5


def test_backoff_doubles_with_jitter_and_is_capped(server):
    waits = []
    server.fail(503, times=20)
    registry = registry_for(server, backoff=1.0, max_tries=5)
    registry._sleep = waits.append
    with pytest.raises(FetchError):
        registry.version()
    assert len(waits) == 4
    for attempt, wait in enumerate(waits):
        assert 0.5 * 2**attempt <= wait <= 1.5 * 2**attempt
    waits.clear()
    registry = registry_for(server, backoff=200.0, max_tries=3)
    registry._sleep = waits.append
    with pytest.raises(FetchError):
        registry.version()
    assert waits == [60.0, 60.0]


def test_retry_after_is_capped_at_300_seconds(server):
    waits = []
    server.fail(429, times=1, retry_after=100000)
    registry = registry_for(server)
    registry._sleep = waits.append
    registry.version()
    assert waits == [300.0]


def test_retry_after_seconds():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("9999") == 300.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 27 <= retry_after_seconds(later) <= 30
    earlier = format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)
    assert retry_after_seconds(earlier) == 0.0
