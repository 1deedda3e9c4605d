"""Atom feeds of changes: valid (as a feed reader parses them: feedparser), selected by
watchlist, saved search, trial and severity, with entry ids that stay the same across runs,
even when the change rows are recomputed."""

from __future__ import annotations

import feedparser

from clirun import tw
from story import NCT, ingest_story
from trialwatch.snapshots.store.store import Store

SHORT = "Human Umbilical Cord Mesenchymal Stem Cells for Alport…"


def feed(db, *args):
    result = tw(db, "feed", *args)
    assert result.exit_code == 0, result.output
    parsed = feedparser.parse(result.stdout_bytes)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_a_feed_round_trips_with_stable_ids(tmp_path):
    db = tmp_path / "tw.db"
    ingest_story(db, tmp_path / "files", tw, upto=5)
    first = feed(db, "--nct", NCT)
    assert first.feed.title == f"trialwatch: Changes of {NCT}"
    assert len(first.entries) == 10
    newest = first.entries[0]
    assert newest.title.startswith(f"{NCT} {SHORT}: Status RECRUITING → SUSPENDED")
    assert newest.link == f"https://clinicaltrials.gov/study/{NCT}"
    assert newest.updated == "2025-09-30T09:00:00+00:00"
    assert {t.term for t in newest.tags} == {"critical", "status"}
    assert "Primary outcome" in " ".join(e.title for e in first.entries)
    ids = [e.id for e in first.entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("urn:uuid:") for i in ids)

    # The same feed written again, and after every change row was recomputed (reparse gives
    # the rows new numbers): the same ids, so a reader shows nothing twice.
    assert [e.id for e in feed(db, "--nct", NCT).entries] == ids
    assert tw(db, "reparse").exit_code == 0
    assert [e.id for e in feed(db, "--nct", NCT).entries] == ids
    # A new snapshot adds its entries on top; the others keep their ids.
    ingest_story(db, tmp_path / "files", tw)
    later = feed(db, "--nct", NCT)
    assert [e.id for e in later.entries][-len(ids) :] == ids and len(later.entries) > len(ids)
    assert first.feed.id == later.feed.id

    critical = feed(db, "--nct", NCT, "--severity", "critical")
    assert critical.feed.title == f"trialwatch: critical changes of {NCT}"
    assert {t.term for e in critical.entries for t in e.tags} >= {"critical"}
    assert all("critical" in {t.term for t in e.tags} for e in critical.entries)
    assert [e.id for e in critical.entries] == [e.id for e in later.entries if "critical" in {t.term for t in e.tags}]
    assert len(feed(db, "--nct", NCT, "--limit", "2").entries) == 2


def test_watchlist_search_and_every_trial(tmp_path):
    db = tmp_path / "tw.db"
    ingest_story(db, tmp_path / "files", tw)
    assert feed(db).entries == []  # nothing watched yet
    assert feed(db).feed.title == "trialwatch: Changes of the watched trials"
    assert len(feed(db, "--all").entries) == 14
    store = Store(str(db))
    search = store.watchlist.add_search("query.cond=Alport", "alport")
    store.watchlist.add([NCT], search_id=search)
    store.close()
    assert len(feed(db).entries) == 14
    by_search = feed(db, "--search", "alport", "--severity", "critical", "--severity", "notable")
    assert (
        by_search.feed.title == "trialwatch: critical and notable changes of the trials saved search 'alport' watches"
    )
    assert {t.term for e in by_search.entries for t in e.tags} & {"minor"} == set()
    out = tmp_path / "changes.atom"
    result = tw(db, "feed", "-o", out)
    assert result.exit_code == 0 and result.stderr == f"14 changes written to {out}\n"
    assert not feedparser.parse(out.read_bytes()).bozo


def test_bad_selections_are_one_line_and_exit_2(tmp_path):
    db = tmp_path / "tw.db"
    ingest_story(db, tmp_path / "files", tw, upto=1)
    for args, message in (
        (["--search", "nope"], "no saved search is called 'nope'"),
        (["--all", "--nct", NCT], "give one of --search, --nct and --all"),
        (["--nct", "NCT00000001"], "NCT00000001: not in"),
        (["--severity", "grave"], "'grave' is not one of"),
    ):
        result = tw(db, "feed", *args)
        assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1, args
