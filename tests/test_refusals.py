"""A refusal (HTTP 403): asked again once through the browser-like TLS transport, or one line at once.

ClinicalTrials.gov sometimes refuses scripted clients on its history endpoints while a browser
on the same machine is served; public reports trace it to the TLS fingerprint.  The local
registry (tests/registry_server.py) stands in for that with `refuse_scripted`: it refuses
every request that lacks the headers a browser sends and serves the others, so the switch
from the first transport to the second is seen on a real socket.
"""

import copy
import sys
import time

import pytest

from clirun import tw as run_cli
from registry_server import RegistryServer, load_studies
from trialwatch.ingest.errors import FetchError
from trialwatch.ingest.http import Registry, user_agent

STUDIES = load_studies()
NCT = "NCT05147467"
HISTORY_PATH = f"/api/int/studies/{NCT}"
BROWSER_MARK = "sec-ch-ua"  # a header the browser-like transport sends and requests does not


def _history_server(server):
    study = STUDIES[NCT]
    server.histories[NCT] = {
        "study": study,
        "history": {"changes": [{"version": 0, "date": "2021-11-24", "status": "RECRUITING", "moduleLabels": []}]},
    }
    server.history_versions[(NCT, 0)] = study


@pytest.fixture
def server():
    with RegistryServer(copy.deepcopy(STUDIES)) as running:
        _history_server(running)
        yield running


@pytest.fixture
def without_browser_tls(monkeypatch):
    """As if the `browser-tls` extra were not installed: `import curl_cffi` fails."""
    monkeypatch.setitem(sys.modules, "curl_cffi", None)


def registry_for(server, **options):
    settings = {"rate": None, "timeout": 5.0, "max_tries": 5, "backoff": 0.01}
    return Registry(server.url, **{**settings, **options})


def browser_like(seen) -> bool:
    return BROWSER_MARK in {name.lower() for name in seen.headers}


def test_curl_cffi_is_installed_for_the_tests():
    """The test extra installs the fallback, so CI exercises it (pyproject's `test` extra)."""
    import curl_cffi  # noqa: F401


def test_a_refusal_is_asked_again_once_through_the_browser_like_transport(server):
    server.refuse_scripted = True
    registry = registry_for(server)
    data = registry.history(NCT)
    assert data["history"]["changes"][0]["version"] == 0
    assert [(seen.path, browser_like(seen)) for seen in server.log] == [(HISTORY_PATH, False), (HISTORY_PATH, True)]
    assert registry.requests_made == 2
    # The host refused the first transport: its next requests go through the second at once.
    assert registry.history_version(NCT, 0)["studyVersion"] == 0
    assert dict(registry.studies([NCT]))[NCT]["protocolSection"]["identificationModule"]["nctId"] == NCT
    assert [browser_like(seen) for seen in server.log[2:]] == [True, True]
    assert registry.requests_made == 4 == len(server.log)
    # Both transports say who is asking: the fallback changes the handshake, not the name.
    assert {seen.headers.get("User-Agent") for seen in server.log} == {user_agent()}
    assert registry.browser_hosts == {server.url.split("//")[1]}


def test_the_fallback_waits_its_politeness_turn_and_is_counted(server):
    server.refuse_scripted = True
    registry = registry_for(server, rate=5)
    start = time.monotonic()
    registry.version()
    assert time.monotonic() - start >= 0.2  # the refused request, then the fallback a turn later
    assert registry.requests_made == 2


def test_a_refusal_of_both_transports_is_one_line_at_once(server):
    server.fail(403, times=2)
    registry = registry_for(server, backoff=5.0)
    waits = []
    registry._sleep = waits.append
    with pytest.raises(FetchError) as caught:
        registry.history(NCT)
    message = str(caught.value)
    assert message == (
        f"{NCT} history: ClinicalTrials.gov refused the request (HTTP 403, GET {server.url}{HISTORY_PATH}), "
        "also through the browser-like TLS transport"
    )
    assert caught.value.status == 403 and caught.value.nct_id == NCT
    assert registry.requests_made == 2 and waits == []  # no backoff, no third try


def test_other_statuses_through_the_fallback_are_retried_as_usual(server):
    server.refuse_scripted = True
    registry = registry_for(server)
    registry.version()
    server.fail(503, times=2)
    assert registry.version()["apiVersion"] == "2.0.5"
    assert registry.requests_made == 5 and all(browser_like(seen) for seen in server.log[1:])


def test_transport_errors_of_the_fallback_are_retried_and_told_in_one_line():
    with RegistryServer(copy.deepcopy(STUDIES)) as running:
        running.refuse_scripted = True
        registry = registry_for(running, max_tries=2)
        registry.version()
    with pytest.raises(FetchError) as caught:  # the server is gone; the host still goes through the fallback
        registry.version()
    message = str(caught.value)
    assert "gave up after 2 tries" in message and "(curl error 7)" in message
    assert "\n" not in message and "https://curl.se" not in message
    assert registry.requests_made == 4


def test_without_the_extra_a_refusal_is_one_line_naming_the_fix(server, without_browser_tls):
    server.refuse_scripted = True
    registry = registry_for(server, backoff=5.0)
    waits = []
    registry._sleep = waits.append
    with pytest.raises(FetchError) as caught:
        registry.history(NCT)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"{NCT} history: ClinicalTrials.gov refused the request (HTTP 403, GET {server.url}{HISTORY_PATH})"
    )
    assert "pip install 'trialwatch[browser-tls]'" in message and "browser-like TLS transport" in message
    assert registry.requests_made == 1 == len(server.log) and waits == []


def test_a_page_site_refusing_is_named_by_its_host(server, without_browser_tls):
    server.pages["/clinical-trials/NCT06731192"] = (b"page", "text/plain")
    server.refuse_scripted = True
    registry = Registry("https://clinicaltrials.gov", rate=None, backoff=0.01)
    with pytest.raises(FetchError, match=r"127\.0\.0\.1:\d+ refused the request \(HTTP 403"):
        registry.fetch_url(server.url_for("/clinical-trials/NCT06731192"))


# -- through the command line ------------------------------------------------------------------


def tw(db, server, *args):
    return run_cli(db, "--retry-wait", "1", *args, url=server.url)  # the default wait, not the tests' 0.01


def test_backfill_refused_without_the_extra_is_one_line_in_under_two_seconds(tmp_path, server, without_browser_tls):
    """Before, a 403 was retried five times with backoff (about 30 s per trial at the defaults)."""
    server.refuse_scripted = True
    start = time.monotonic()
    result = tw(tmp_path / "tw.db", server, "backfill", NCT)
    elapsed = time.monotonic() - start
    assert elapsed < 2.0  # a bound for a hang; the figure is in the README
    assert result.exit_code == 1
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1
    assert f"{NCT} history: ClinicalTrials.gov refused the request (HTTP 403" in failed[0]
    assert "pip install 'trialwatch[browser-tls]'" in failed[0]
    assert "Traceback" not in result.output
    assert sum(server.hits.values()) == 1


def test_run_refused_without_the_extra_is_one_line_in_under_two_seconds(tmp_path, server, without_browser_tls):
    db = tmp_path / "tw.db"
    assert tw(db, server, "watch", "add", NCT).exit_code == 0
    server.refuse_scripted = True
    start = time.monotonic()
    result = tw(db, server, "run")
    assert time.monotonic() - start < 2.0
    assert result.exit_code == 1
    failed = result.stdout.split("Failed\n", 1)[1].strip().splitlines()
    assert len(failed) == 1 and "refused the request (HTTP 403" in failed[0] and "browser-tls" in failed[0]
    assert sum(server.hits.values()) == 1


def test_backfill_through_the_fallback_stores_the_history(tmp_path, server):
    server.refuse_scripted = True
    result = tw(tmp_path / "tw.db", server, "backfill", NCT)
    assert result.exit_code == 0, result.output
    assert "1 trial: 1 versions fetched (1 new, 0 changed, 0 unchanged)" in result.stderr
    assert [browser_like(seen) for seen in server.log] == [False, True, True]


def test_history_requests_carry_no_search_parameters(tmp_path, server):
    """Search parameters make the history answers add `<mark>` tags; they are never sent."""
    result = tw(tmp_path / "tw.db", server, "backfill", NCT)
    assert result.exit_code == 0, result.output
    assert [(seen.path, seen.params) for seen in server.log] == [
        (HISTORY_PATH, {"history": "true"}),
        (f"{HISTORY_PATH}/history/0", {}),
    ]
