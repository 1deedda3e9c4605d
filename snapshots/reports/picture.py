"""A trial's timeline as a picture: one image per trial, time running left to right.

- **status**: coloured periods, each status from the snapshot that showed it to the next;
- **planned dates**: start, primary completion and completion as they were believed at each
  moment (the y axis is the planned date): estimated dashed, actual solid, so a slipping date
  climbs as a staircase; the grey diagonal is the day of observation (a planned date below it
  had already passed);
- **enrollment** over time, estimated dashed, actual solid;
- **changes**: a marker at each snapshot that brought changes, coloured by its gravest change
  (critical red, notable orange, minor grey), sized by how many; a tick at every snapshot.

Drawn with matplotlib's object API (no pyplot, no global state: safe in Datasette's threads),
offline, as SVG, PNG, or an HTML page holding the SVG and the timeline's table.  Every element
carries an id (`status-…`, `planned-…`, `enrollment-…`, `change-…`, `snapshot-…`) so tests and
styles can find it.  `story()` gathers the data and knows nothing of drawing.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from trialwatch.snapshots.changes.dates import registry_date
from trialwatch.snapshots.changes.diff import SEVERITIES
from trialwatch.snapshots.reports.words import short_title

FORMATS = ("svg", "png", "html")
STATUS_COLOURS = {
    "NOT_YET_RECRUITING": "#9ecae1",
    "RECRUITING": "#41ab5d",
    "ENROLLING_BY_INVITATION": "#a1d99b",
    "ACTIVE_NOT_RECRUITING": "#4292c6",
    "SUSPENDED": "#fd8d3c",
    "TERMINATED": "#cb181d",
    "WITHDRAWN": "#737373",
    "COMPLETED": "#08519c",
}
OTHER_STATUS = "#d9d9d9"
SEVERITY_COLOURS = {"critical": "#d62728", "notable": "#ff7f0e", "minor": "#9e9e9e"}
PLANNED = (
    ("start_date", "start", "#2ca02c"),
    ("primary_completion_date", "primary completion", "#9467bd"),
    ("completion_date", "completion", "#17becf"),
)
SVG_SETTINGS = {
    "svg.fonttype": "none",
    "svg.hashsalt": "trialwatch",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
}


@dataclass
class Period:
    """A value held from `start` to `end` (the next snapshot that changed it, or the picture's end)."""

    start: datetime
    end: datetime
    value: object
    kind: str | None = None  # ACTUAL, ESTIMATED or None


@dataclass
class Story:
    nct_id: str
    title: str
    snapshots: list[datetime]
    until: datetime
    statuses: list[Period] = field(default_factory=list)
    planned: dict[str, list[Period]] = field(default_factory=dict)
    enrollment: list[Period] = field(default_factory=list)
    # (when, gravest severity, how many changes, how many critical) for each snapshot with changes
    changes: list[tuple[datetime, str, int, int]] = field(default_factory=list)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


def _periods(times: list[datetime], values: list[tuple[object, str | None]], until: datetime) -> list[Period]:
    """Consecutive equal values merged into periods; a value of None leaves a gap."""
    periods: list[Period] = []
    for index, (when, (value, kind)) in enumerate(zip(times, values, strict=True)):
        end = times[index + 1] if index + 1 < len(times) else until
        if periods and periods[-1].value == value and periods[-1].kind == kind and periods[-1].end == when:
            periods[-1].end = end
        elif value is not None:
            periods.append(Period(when, end, value, kind))
    return periods


def _planned(record: dict, path: str) -> tuple[date | None, str | None]:
    value = record.get(path) or {}
    parsed = registry_date(value.get("date"))
    return (parsed[0] if parsed else None), value.get("type")


def story(reading, nct_id: str, until: str | None = None) -> Story:
    """What the picture shows of a trial, from its snapshots (as known at each) and change rows."""
    entries = reading.timeline(nct_id)
    info = reading.trials([nct_id]).get(nct_id) or {}
    times = [instant(entry["observed_at"]) for entry in entries]
    records = [entry["record"] for entry in entries]
    end = (
        instant(until)
        if until
        else max([*times, *([instant(info["last_checked_utc"])] if info.get("last_checked_utc") else [])])
    )
    end = max(end, times[-1] + timedelta(days=1))
    told = Story(nct_id, records[-1].get("title") or info.get("title") or "", times, end)
    told.statuses = _periods(times, [(r.get("status"), None) for r in records], end)
    for path, _, _ in PLANNED:
        told.planned[path] = _periods(times, [_planned(r, path) for r in records], end)
    counts = [((r.get("enrollment") or {}).get("count"), (r.get("enrollment") or {}).get("type")) for r in records]
    told.enrollment = _periods(times, counts, end)
    by_snapshot: dict[str, list[str]] = {}
    for change in reading.changes(nct_ids=[nct_id]):
        by_snapshot.setdefault(change["observed_at"], []).append(change["severity"])
    for observed, severities in sorted(by_snapshot.items()):
        gravest = min(severities, key=SEVERITIES.index)
        told.changes.append((instant(observed), gravest, len(severities), severities.count("critical")))
    return told


# -- drawing -------------------------------------------------------------------------------


def _num(value: datetime | date) -> float:
    from matplotlib.dates import date2num

    return float(date2num(value))


def _label_axis(ax, text: str) -> None:
    ax.set_ylabel(text, rotation=0, ha="right", va="center", labelpad=6, fontsize=8.5, color="#333333")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


AXIS_PIXELS = 720  # the time axis's width in the picture, for fitting labels
CHAR_PIXELS = 5.6  # one character of an 8.5-point label


def _status_label(ax, index: int, period: Period, pixels: float, last: bool) -> None:
    """A status period's name inside it; the last one's beside it when it is too narrow."""
    text = str(period.value).replace("_", " ").lower()
    start, end = _num(period.start), _num(period.end)
    colour = STATUS_COLOURS.get(str(period.value), OTHER_STATUS)
    if pixels >= CHAR_PIXELS * len(text) + 6:
        dark = colour in (STATUS_COLOURS["COMPLETED"], STATUS_COLOURS["TERMINATED"], STATUS_COLOURS["WITHDRAWN"])
        label = ax.text((start + end) / 2, 0.5, text, ha="center", va="center", fontsize=8.5)
        label.set_color("white" if dark else "#111111")
    elif last:
        label = ax.annotate(text, (end, 0.5), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8.5)
    elif pixels >= CHAR_PIXELS * 4:
        label = ax.text((start + end) / 2, 0.5, text[: int(pixels / CHAR_PIXELS) - 1] + "…", ha="center", va="center")
        label.set_fontsize(8.5)
    else:
        return
    label.set_gid(f"status-label-{index}")


def _draw_status(ax, told: Story) -> None:
    span = (_num(told.until) - _num(told.snapshots[0])) * 1.04
    for index, period in enumerate(told.statuses):
        start, width = _num(period.start), _num(period.end) - _num(period.start)
        colour = STATUS_COLOURS.get(str(period.value), OTHER_STATUS)
        bars = ax.broken_barh([(start, width)], (0, 1), facecolors=colour, edgecolor="white", linewidth=1)
        bars.set_gid(f"status-{index}-{period.value}")
        _status_label(ax, index, period, width / span * AXIS_PIXELS, index == len(told.statuses) - 1)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    _label_axis(ax, "status")
    ax.spines["left"].set_visible(False)


def _segment(ax, period: Period, colour: str, gid: str, y=None, width: float = 2.0):
    value = _num(period.value) if y is None else y  # type: ignore[arg-type]
    style = "-" if period.kind == "ACTUAL" else (0, (4, 2.5))
    (line,) = ax.plot([_num(period.start), _num(period.end)], [value, value], color=colour, lw=width, ls=style)
    line.set_gid(gid)
    return value


def _draw_planned(ax, told: Story) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    values, ends = [], []
    for path, name, colour in PLANNED:
        previous = None
        for index, period in enumerate(told.planned.get(path, [])):
            kind = (period.kind or "unknown").lower()
            value = _segment(ax, period, colour, f"planned-{path}-{index}-{kind}")
            if previous is not None and previous != value:  # the jump: a dotted riser of the staircase
                (riser,) = ax.plot([_num(period.start)] * 2, [previous, value], color=colour, lw=1, ls=":")
                riser.set_gid(f"planned-{path}-{index}-moved")
            previous = value
            values.append(value)
        if told.planned.get(path):
            ends.append((previous, path, name, colour, told.planned[path][-1]))
    low, high = (min(values), max(values)) if values else (_num(told.snapshots[0]), _num(told.until))
    pad = max(60.0, (high - low) * 0.12)
    ax.set_ylim(low - pad, high + pad)
    _planned_labels(ax, told, ends, (high - low + 2 * pad) * 0.13)
    x0, x1 = _num(told.snapshots[0]), _num(told.until)
    (diagonal,) = ax.plot([x0, x1], [x0, x1], color="#bbbbbb", lw=1, zorder=0)
    diagonal.set_gid("planned-observation-day")
    ax.yaxis.set_major_locator(AutoDateLocator(maxticks=6))
    ax.yaxis.set_major_formatter(ConciseDateFormatter(ax.yaxis.get_major_locator(), show_offset=False))
    ax.grid(axis="y", color="#eeeeee", lw=0.8)
    _label_axis(ax, "planned\ndates")
    ax.tick_params(axis="y", labelsize=8)


def _planned_labels(ax, told: Story, ends: list, gap: float) -> None:
    """Each planned date's name and last value at the right end of its line, pushed apart."""
    placed: list[float] = []
    for value, path, name, colour, last in sorted(ends, key=lambda end: end[0]):
        y = max([value, *(p + gap for p in placed)])
        placed.append(y)
        when = last.value.isoformat()[:7] if isinstance(last.value, date) else ""
        kind = " actual" if last.kind == "ACTUAL" else " est." if last.kind else ""
        note = ax.annotate(
            f"{name}\n{when}{kind}", (_num(told.until), y), xytext=(4, 0), textcoords="offset points", va="center"
        )
        note.set(fontsize=7.5, color=colour, linespacing=1.1, gid=f"planned-{path}-label", annotation_clip=False)


def _draw_enrollment(ax, told: Story) -> None:
    counts = [p.value for p in told.enrollment if isinstance(p.value, (int, float))]
    previous = None
    for index, period in enumerate(told.enrollment):
        if not isinstance(period.value, (int, float)):
            continue
        kind = (period.kind or "unknown").lower()
        _segment(ax, period, "#444444", f"enrollment-{index}-{kind}", y=period.value, width=1.8)
        if previous is not None and previous != period.value:
            (riser,) = ax.plot([_num(period.start)] * 2, [previous, period.value], color="#444444", lw=1, ls=":")
            riser.set_gid(f"enrollment-{index}-moved")
        if previous != period.value:
            at = (_num(period.start), period.value)
            label = ax.annotate(f"{period.value}", at, xytext=(3, 4), textcoords="offset points", fontsize=8)
            label.set(color="#222222", gid=f"enrollment-{index}-label")
        previous = period.value
    ax.set_ylim(0, max(counts, default=1) * 1.35)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(3, integer=True))
    ax.tick_params(axis="y", labelsize=8)
    _label_axis(ax, "enrollment")


def _draw_changes(ax, told: Story) -> None:
    for index, when in enumerate(told.snapshots):
        (tick,) = ax.plot([_num(when)], [0], marker="|", markersize=9, color="#777777", ls="none")
        tick.set_gid(f"snapshot-{index}-{when.date().isoformat()}")
    for index, (when, severity, count, _) in enumerate(told.changes):
        dot = ax.scatter([_num(when)], [1], s=28 + 10 * min(count, 12), color=SEVERITY_COLOURS[severity], zorder=3)
        dot.set_gid(f"change-{index}-{severity}")
        number = ax.annotate(f"{count}", (_num(when), 1), xytext=(0, 7), textcoords="offset points", ha="center")
        number.set(fontsize=7.5, color="#333333", gid=f"change-{index}-count")
    ax.set_ylim(-0.6, 1.9)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    _label_axis(ax, "changes")


def _x_axis(ax, told: Story) -> None:
    """Time: ticks at the snapshot dates when they are few, else the calendar's."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter

    start, end = _num(told.snapshots[0]), _num(told.until)
    ax.set_xlim(start - (end - start) * 0.02, end + (end - start) * 0.02)
    firsts: dict[date, float] = {}
    for when in told.snapshots:
        firsts.setdefault(when.date(), _num(when))  # the first snapshot of each day
    days = sorted(firsts.values())
    if len(days) <= 8 and all(b - a > (end - start) * 0.06 for a, b in zip(days, days[1:], strict=False)):
        ax.set_xticks(days)
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        for label in ax.get_xticklabels():
            label.set(rotation=25, ha="right", fontsize=8)
    else:
        locator = AutoDateLocator(maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("observed (snapshot dates)", fontsize=8, color="#555555")


def _legend(fig) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour, lw=2, label=name) for _, name, colour in PLANNED]
    handles += [
        Line2D([], [], color="#555555", lw=2, ls=(0, (4, 2.5)), label="estimated"),
        Line2D([], [], color="#555555", lw=2, label="actual"),
        Line2D([], [], color="#bbbbbb", lw=1, label="day observed"),
    ]
    handles += [
        Line2D([], [], color=colour, marker="o", ls="none", label=f"{severity} change")
        for severity, colour in SEVERITY_COLOURS.items()
    ]
    legend = fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, fontsize=8, columnspacing=1.5)
    legend.set_gid("legend")


def draw(told: Story):
    """The picture as a matplotlib Figure (10 × 6.2 inches: 1000 × 620 pixels at 100 dpi)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.2), dpi=100)
    grid = fig.add_gridspec(4, 1, height_ratios=[0.5, 2.3, 1.1, 0.55], hspace=0.18)
    grid.update(left=0.125, right=0.86, top=0.88, bottom=0.2)
    status = fig.add_subplot(grid[0])
    axes = [status] + [fig.add_subplot(grid[i], sharex=status) for i in (1, 2, 3)]
    _draw_status(axes[0], told)
    _draw_planned(axes[1], told)
    _draw_enrollment(axes[2], told)
    _draw_changes(axes[3], told)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    _x_axis(axes[3], told)
    heading = fig.text(0.01, 0.965, f"{told.nct_id}  {short_title(told.title, 90)}", fontsize=11.5, weight="bold")
    heading.set(va="top", gid="title")
    critical = sum(change[3] for change in told.changes)
    total = sum(change[2] for change in told.changes)
    first, last = told.snapshots[0].date(), told.snapshots[-1].date()
    count = len(told.snapshots)
    line = f"{count} snapshot{'s' if count != 1 else ''}, {first} to {last}; {total} change{'s' if total != 1 else ''}"
    subtitle = fig.text(0.01, 0.925, line + (f" ({critical} critical)" if critical else ""), fontsize=9)
    subtitle.set(va="top", color="#444444", gid="subtitle")
    _legend(fig)
    return fig


def render(told: Story, fmt: str) -> bytes:
    """The picture as SVG or PNG bytes, or an HTML page holding the SVG."""
    import matplotlib

    with matplotlib.rc_context(cast(Any, SVG_SETTINGS)):
        fig = draw(told)
        out = io.BytesIO()
        if fmt == "png":
            fig.savefig(out, format="png", dpi=100, metadata={"Software": None})
        else:
            fig.savefig(out, format="svg", metadata={"Date": None})
    data = out.getvalue()
    return html_page(told, data.decode("utf-8")).encode("utf-8") if fmt == "html" else data


def svg_element(svg: str) -> str:
    """The <svg> element of an SVG document (without the XML declaration and doctype), scalable."""
    element = svg[svg.index("<svg") :]
    return element.replace('width="720pt" height="446.4pt"', 'width="100%"', 1)


def html_page(told: Story, svg: str) -> str:
    title = html.escape(f"{told.nct_id} {told.title}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}: timeline</title>"
        "<style>body{font-family:sans-serif;max-width:1040px;margin:1em auto;padding:0 1em}"
        "svg{max-width:100%;height:auto}</style></head><body>\n"
        f"<h1>{title}</h1>\n{svg_element(svg)}\n"
        f'<p><a href="https://clinicaltrials.gov/study/{told.nct_id}">{told.nct_id} on ClinicalTrials.gov</a></p>\n'
        "</body></html>\n"
    )


def render_timeline(reading, nct_id: str, fmt: str, until: str | None = None) -> bytes:
    """A trial's timeline picture (`fmt` svg, png or html) from the database `reading` reads."""
    return render(story(reading, nct_id, until), fmt)
