"""trialwatch's pages in Datasette (the `trialwatch_pages` plugin): a trial's page with its
timeline picture and links, the picture and the Atom feeds as routes, table pages that open
with their data.

- `/-/trialwatch/{database}/{NCT…}/timeline.svg`: the trial's timeline picture (`trialwatch timeline`);
- `/-/trialwatch/{database}/feed.atom`: the Atom feed of changes (`trialwatch feed`): of the
  watched trials, or `?search=NAME`, `?nct=NCT…` (repeatable), `?all=1`; `?severity=` repeatable;
- the trials table's row page: the trial's title, links to its timeline, picture, feed and
  registry page, and the picture;
- every table page: the column descriptions folded under one line (still one click away, and
  on each column's menu), so the page opens with its rows.

Everything is read through `trialwatch.snapshots.store.reading.Reading` over Datasette's own
read-only connection: the same SQL as the command line, none here.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils.asgi import Response
from jinja2 import ChoiceLoader, FileSystemLoader

from trialwatch.snapshots.changes.diff import SEVERITIES
from trialwatch.snapshots.reports.feed import Selection, render_feed
from trialwatch.snapshots.reports.picture import render_timeline
from trialwatch.snapshots.store.reading import Reading, UnknownSelection

TEMPLATES = Path(__file__).parent / "templates"
NCT = re.compile(r"^NCT\d{8}$")
PREFIX = "/-/trialwatch"


def links(database: str, nct_id: str) -> dict[str, str]:
    """Where a trial's timeline, picture, feed and registry page are."""
    return {
        "timeline": f"/{quote(database)}/trial_timeline_of?nct_id={nct_id}",
        "picture": f"{PREFIX}/{quote(database)}/{nct_id}/timeline.svg",
        "feed": f"{PREFIX}/{quote(database)}/feed.atom?nct={nct_id}",
        "registry": f"https://clinicaltrials.gov/study/{nct_id}",
    }


@hookimpl
def prepare_jinja2_environment(env, datasette):
    """trialwatch's templates first; each extends Datasette's own ("default:…")."""
    env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), env.loader])


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name != "row" or table != "trials" or request is None:
        return {}
    nct_id = str(request.url_vars.get("pks", "")).split(",")[0]
    if not NCT.match(nct_id):
        return {}

    async def trial():
        db = datasette.get_database(database)
        titles = await db.execute_fn(lambda conn: Reading(conn).titles([nct_id]))
        return {"nct_id": nct_id, "title": titles.get(nct_id), "links": links(database, nct_id)}

    async def inner():
        return {"trialwatch_trial": await trial()}

    return inner


async def picture(request, datasette):
    database, nct_id = request.url_vars["database"], request.url_vars["nct_id"]
    try:
        db = datasette.get_database(database)
    except KeyError:
        return Response.text(f"no database {database!r}", status=404)
    known = await db.execute_fn(lambda conn: Reading(conn).trials([nct_id]))
    if nct_id not in known:
        return Response.text(f"{nct_id} is not in {database}", status=404)
    svg = await db.execute_fn(lambda conn: render_timeline(Reading(conn), nct_id, "svg"))
    return Response(svg, content_type="image/svg+xml; charset=utf-8", headers={"Cache-Control": "no-cache"})


async def feed(request, datasette):
    database = request.url_vars["database"]
    try:
        db = datasette.get_database(database)
    except KeyError:
        return Response.text(f"no database {database!r}", status=404)
    args = request.args
    severities = [s for s in args.getlist("severity") if s]
    unknown = [s for s in severities if s not in SEVERITIES]
    ids = [n.strip().upper() for n in args.getlist("nct") if n.strip()]
    if unknown or not all(NCT.match(n) for n in ids):
        return Response.text(f"severity is one of {', '.join(SEVERITIES)}; nct an NCT id", status=400)
    selection = Selection(severities, args.get("search"), ids, bool(args.get("all")))
    self_url = datasette.absolute_url(
        request, request.path + (f"?{request.query_string}" if request.query_string else "")
    )
    try:
        data = await db.execute_fn(
            lambda conn: render_feed(
                Reading(conn),
                selection,
                link_for=lambda nct_id: datasette.absolute_url(request, f"/{quote(database)}/trials/{nct_id}"),
                self_url=self_url,
            )
        )
    except UnknownSelection as error:
        return Response.text(str(error), status=404)
    return Response(data, content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_routes():
    return [
        (rf"^{PREFIX}/(?P<database>[^/]+)/(?P<nct_id>NCT\d{{8}})/timeline\.svg$", picture),
        (rf"^{PREFIX}/(?P<database>[^/]+)/feed\.atom$", feed),
    ]
