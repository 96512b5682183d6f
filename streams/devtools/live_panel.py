"""The demo's panel on a terminal: funnel, temperatures, event rate and hot leads, redrawn in place.

Beneath it, the latest alert ``leadstream alerts`` would send, and the recent changes scrolling
(timed ones, decay above all, marked). The region keeps one height from its first drawing, so the
panel never moves. Redrawn from the event loop (no refresh thread): the tally is never read while
it changes. The summary at the end prints below it; piped output has every alert (live.PlainView).
"""

from __future__ import annotations

import os
import time
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from scoring.stages import Temperature
from streams.devtools.live import DAY_S, ChangeTally, PlainView, Rate, Seen, View, change_line, funnel_text

TITLE = "leadstream dev"
STYLES = {"hot": "bold red", "warm": "yellow", "cold": "cyan"}
HOT_LEADS_SHOWN = 5
PANEL_LINES = 10  # the panel's own height, borders included
ALERT_LINES = 5  # streams.alerting.message.console_text's lines
MIN_REDRAW_S = 0.1


class PanelView:
    funnel_every_s = 1.0

    def __init__(self, tally: ChangeTally, out: TextIO) -> None:
        self.tally = tally
        self.console = Console(file=out, highlight=False)
        self.stats: dict[str, Any] = {}
        self.accounting: dict[str, Any] = {}
        self.events_sent = 0
        self.rate = Rate()
        self._drawn_at = 0.0
        self.latest_alert: str | None = None
        self.live = Live(get_renderable=self._render, console=self.console, auto_refresh=False,
                         redirect_stdout=False, redirect_stderr=False)
        self.live.start(refresh=True)

    def on_change(self, raw: bytes) -> None:
        seen = self.tally.record(raw)
        if seen is None:
            return
        if seen.alert is not None:
            self.latest_alert = seen.alert
        self._redraw()

    def show_funnel(self, stats: dict[str, Any], accounting: dict[str, Any], events_sent: int) -> None:
        self.stats, self.accounting, self.events_sent = stats, accounting, events_sent
        self.rate.update(events_sent, time.time())
        self._redraw(force=True)

    def close(self) -> None:
        self.live.refresh()
        self.live.stop()

    def _redraw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._drawn_at >= MIN_REDRAW_S:
            self._drawn_at = now
            self.live.refresh()

    def _render(self) -> Group:
        return Group(self._panel(), *self._alert(), *self._recent())

    def _alert(self) -> list[Text]:
        lines = [Text(f"latest of {self.tally.alerts} alerts `leadstream alerts` would send", style="dim")]
        text = self.latest_alert.splitlines() if self.latest_alert else ["none yet: a lead turning hot or reaching SQL"]
        lines += [Text(line, style="bold" if line.startswith("ALERT") else "", no_wrap=True, overflow="ellipsis")
                  for line in text[:ALERT_LINES]]
        return lines + [Text("")] * (ALERT_LINES - len(text))

    def _panel(self) -> Panel:
        funnel, _ = funnel_text(self.stats)
        temps = self.stats.get("leads_per_temperature", {})
        heat = Text(" · ").join(Text(f"{t.value} {temps.get(t.value, 0)}", style=STYLES[t.value]) for t in Temperature)
        a, tally = self.accounting, self.tally
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        grid.add_row("funnel", funnel or "waiting for the worker's first figures")
        grid.add_row("temperature", heat)
        grid.add_row("events", f"sent {self.events_sent} ({self.rate.per_second:.0f}/s) · scored {a.get('scored', 0)}"
                               f" · ignored {a.get('ignored', 0)} · held {a.get('held', 0)}"
                               f" · dead-lettered {a.get('dead_lettered', 0)}")
        grid.add_row("clock", self._clock_line())
        causes = " · ".join(f"{cause} {count}" for cause, count in sorted(tally.by_cause.items())) or "none yet"
        grid.add_row("changes", f"{causes} · alerts {tally.alerts}")
        grid.add_row("hot leads", self._hot_leads())
        return Panel(grid, title=TITLE, title_align="left", border_style="blue")

    def _clock_line(self) -> str:
        clock, elapsed = self.tally.clock, time.time() - self.tally.started_at
        if clock.kind != "scaled":
            return f"real time, {elapsed:.0f} s"
        return (f"day {elapsed * clock.speed / DAY_S:.1f} of demo time after {elapsed:.0f} s"
                f" (1 s = {clock.speed / DAY_S:.2f} days)")

    def _hot_leads(self) -> Text:
        hot = sorted(self.tally.hot.values(), key=lambda change: -change["score"]["total"])
        if not hot:
            return Text("none right now")
        shown = Text(", ").join(
            Text(f"{change['lead_id'][:20]} ({change['account'] or '-'}) {change['score']['total']:.0f}",
                 style=STYLES["hot"]) for change in hot[:HOT_LEADS_SHOWN])
        return shown + Text(f" and {len(hot) - HOT_LEADS_SHOWN} more" if len(hot) > HOT_LEADS_SHOWN else "")

    def _recent(self) -> list[Text]:
        """As many recent changes as the terminal has room for, blank rows until then: the height never changes."""
        room = max(3, self.console.size.height - PANEL_LINES - ALERT_LINES - 4)
        recent = list(self.tally.recent)[-room:]
        lines = [Text("recent changes (timed ones marked)", style="dim")]
        lines += [self._line(seen) for seen in recent]
        return lines + [Text("")] * (room - len(recent))

    def _line(self, seen: Seen) -> Text:
        line = Text(change_line(seen), no_wrap=True, overflow="ellipsis")
        if seen.timed:
            line.stylize("bold magenta")
        elif seen.document["to_temperature"] == Temperature.HOT.value:
            line.stylize(STYLES["hot"])
        return line


def make_view(tally: ChangeTally, out: TextIO) -> View:
    """The panel on a terminal that can redraw, plain lines anywhere else (a pipe, CI, TERM=dumb)."""
    if out.isatty() and os.environ.get("TERM", "") != "dumb":
        return PanelView(tally, out)
    return PlainView(tally, out)
