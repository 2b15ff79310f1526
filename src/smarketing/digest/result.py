"""What :func:`~smarketing.digest.digest` returns: :class:`Digest`, in text, HTML, Slack and e-mail forms.

Every form is rendered from one list of sections (:meth:`Digest.sections`), so the e-mail, the Slack message,
the file and the notebook say the same thing in the same order.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import attrs
import polars as pl

from smarketing._periods import zone
from smarketing.journey import TeamFitness
from smarketing.kpi import Alert
from smarketing.money import Money

__all__ = ["Breach", "Credit", "Digest", "Rejection", "Win"]

#: Slack refuses a section text over 3,000 characters and a message over 50 blocks.
_SLACK_TEXT = 3000
_SLACK_BLOCKS = 50


@attrs.frozen
class Breach:
    """One broken SLA commitment of the period, on either side.

    Attributes:
        side: ``sales`` (a handed-off lead's commitment) or ``marketing`` (a period's volume or quality).
        team: The team that broke it (the lead owner's team; for marketing, ``None``).
        who: The lead owner, or ``None``.
        lead_id: The lead, or ``None`` for marketing's commitments.
        commitment: ``first_response``, ``attempts``, ``disposition``, ``volume``, ``acceptance_rate`` or
            ``sql_rate``.
        due: When it was due (sales), or the period's first day (marketing).
        detail: The reason in words, as the SLA report gives it.
    """

    side: Literal["sales", "marketing"]
    team: str | None
    who: str | None
    lead_id: str | None
    commitment: str
    due: datetime | date
    detail: str

    def line(self, tz: str) -> str:
        """The breach as one line of the digest."""
        if self.side == "marketing":
            return f"marketing {self.commitment}, {self.due.isoformat()}: {self.detail}"
        due = self.due.astimezone(zone(tz)) if isinstance(self.due, datetime) else self.due
        return (
            f"{self.team or '(no team)'} / {self.who or '(no owner)'}: lead {self.lead_id} "
            f"{self.commitment.replace('_', ' ')} due {_time_text(due)}: {self.detail}"
        )


@attrs.frozen
class Credit:
    """A marketing touch credited for a win, by the attribution model.

    Attributes:
        touch_id: The touchpoint id.
        channel: Its channel.
        campaign: Its campaign, if any.
        team: The team that made the touch.
        share: Its share of the lead's conversions (0 to 1).
        value: Its share of the lead's won value, exact: in the plan's currency when the digest was given
            exchange rates, else in the deals' currency.
    """

    touch_id: str
    channel: str
    campaign: str | None
    team: str
    share: float
    value: Money


@attrs.frozen
class Win:
    """A deal won in the period, and the marketing touches credited for it.

    Attributes:
        deal_id: The deal.
        lead_id: The lead it came from, if any.
        owner: The deal owner, if any.
        close_date: The day it was won.
        amount: Its amount.
        credits: The marketing touches of its lead, with their credit (largest first).
    """

    deal_id: str
    lead_id: str | None
    owner: str | None
    close_date: date
    amount: Money
    credits: tuple[Credit, ...] = ()

    def line(self) -> str:
        """The win, and who in marketing helped, as one line."""
        who = f" ({self.owner})" if self.owner else ""
        text = f"{self.deal_id}{who} won {self.close_date.isoformat()}: {_money(self.amount)}"
        if self.credits:
            touches = ", ".join(
                f"{c.channel}{f' [{c.campaign}]' if c.campaign else ''} {c.share * 100:.0f}% "
                f"({_money(c.value)})"
                for c in self.credits
            )
            return f"{text}; marketing touches credited: {touches}"
        return f"{text}; no marketing touch credited"


@attrs.frozen
class Rejection:
    """Leads sales rejected in the period for one reason.

    Attributes:
        reason: The disposition reason; ``None`` when rejected by a move without one.
        leads: How many leads.
        examples: The first lead ids (sorted).
    """

    reason: str | None
    leads: int
    examples: tuple[str, ...]


@attrs.frozen(repr=False)
class Digest:
    """What both teams should see for one period: alerts, breaches, journey breaks, wins, rejections.

    Attributes:
        plan: The plan's name.
        period: The period label, e.g. ``2026-W43``.
        start: The period's first instant, in the plan's time zone.
        end: The first instant after the period.
        as_of: The instant the digest describes; later facts were left out.
        tz: The plan's time zone (its SLA calendar's, else UTC); times are shown in it.
        alerts: KPI alerts of the period's scorecard.
        breaches: SLA commitments broken in the period, sales' then marketing's.
        conformance: Journey conformance by team over the leads that moved in the period.
        moved: How many leads moved in the period.
        wins: Deals won in the period, with the marketing touches credited for them.
        rejections: Leads sales rejected in the period, by reason (most first).
        notes: What was left out and why (a section that could not be computed, a KPI left out).
        limit: The most lines each section shows in text, HTML and Slack (``to_dict`` keeps all).
    """

    plan: str
    period: str
    start: datetime
    end: datetime
    as_of: datetime
    tz: str
    alerts: tuple[Alert, ...]
    breaches: tuple[Breach, ...]
    conformance: tuple[TeamFitness, ...]
    moved: int
    wins: tuple[Win, ...]
    rejections: tuple[Rejection, ...]
    notes: tuple[str, ...] = ()
    limit: int = 10

    @property
    def title(self) -> str:
        """``<plan>: digest for <period>``: the e-mail subject and the Slack header."""
        return f"{self.plan}: digest for {self.period}"

    def sections(self) -> list[tuple[str, list[str]]]:
        """The digest as (heading, lines) pairs, each section cut at :attr:`limit` lines with a count.

        Examples:
            >>> import smarketing as sm
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> d = sm.digest(plan, example_dataset(), period="2026-10")
            >>> [heading for heading, _ in d.sections()]  # doctest: +NORMALIZE_WHITESPACE
            ['KPI alerts', 'SLA breaches', 'Journey conformance by team', 'Wins and the marketing touches
            credited', 'Rejected leads by reason']
        """
        sales = [b for b in self.breaches if b.side == "sales"]
        marketing = [b for b in self.breaches if b.side == "marketing"]
        fitness = [
            f"{t.team or '(no team)'}: {t.violations:,} illegal move(s); {t.fit:,} of {t.leads:,} lead(s) "
            f"followed the journey" + ("" if t.fitness is None else f" ({t.fitness * 100:.1f}%)")
            for t in self.conformance
        ]
        rejected = [
            f"{r.reason or '(no reason given)'}: {r.leads:,} lead(s), e.g. {', '.join(r.examples)}"
            for r in self.rejections
        ]
        breach_lines = [
            f"sales: {len(sales):,} breach(es); marketing: {len(marketing):,} breach(es)",
            *self._cut([b.line(self.tz) for b in sales]),
            *self._cut([b.line(self.tz) for b in marketing]),
        ]
        return [
            ("KPI alerts", self._cut([f"{a.severity}: {a.message}" for a in self.alerts]) or ["none"]),
            ("SLA breaches", breach_lines if self.breaches else ["none"]),
            (
                "Journey conformance by team",
                [f"{self.moved:,} lead(s) moved in the period", *self._cut(fitness)],
            ),
            (
                "Wins and the marketing touches credited",
                self._cut([w.line() for w in self.wins]) or ["no deal won"],
            ),
            ("Rejected leads by reason", self._cut(rejected) or ["none"]),
        ]

    def _cut(self, lines: Sequence[str]) -> list[str]:
        shown = list(lines[: self.limit])
        if len(lines) > self.limit:
            shown.append(f"... and {len(lines) - self.limit:,} more")
        return shown

    def _subtitle(self) -> str:
        start, last = self.start.date(), self.end.date() - timedelta(days=1)
        days = start.isoformat() if start == last else f"{start.isoformat()} to {last.isoformat()}"
        return f"{self.period}: {days} ({self.tz}); as of {_time_text(self.as_of.astimezone(zone(self.tz)))}"

    @property
    def text(self) -> str:
        """The digest as plain text (the e-mail's text part, the file's ``text`` form)."""
        out = [self.title, self._subtitle()]
        for heading, lines in self.sections():
            out += ["", heading, "-" * len(heading), *(f"- {line}" for line in lines)]
        if self.notes:
            out += ["", "Notes", "-----", *(f"- {note}" for note in self.notes)]
        return "\n".join(out) + "\n"

    def _body_html(self) -> str:
        parts = [f"<h2>{_h(self.title)}</h2>", f"<p>{_h(self._subtitle())}</p>"]
        for heading, lines in [*self.sections(), *([("Notes", list(self.notes))] if self.notes else [])]:
            items = "".join(f"<li>{_h(line)}</li>" for line in lines)
            parts.append(f"<h3>{_h(heading)}</h3><ul>{items}</ul>")
        return "".join(parts)

    @property
    def html(self) -> str:
        """The digest as a complete HTML document (the e-mail's HTML part, the file's ``html`` form)."""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_h(self.title)}</title></head>"
            f'<body style="font-family: sans-serif">{self._body_html()}</body></html>\n'
        )

    def _repr_html_(self) -> str:
        return f'<div class="smarketing-digest">{self._body_html()}</div>'

    def __repr__(self) -> str:
        return (
            f"Digest({self.plan!r}, period={self.period!r}, alerts={len(self.alerts)}, "
            f"breaches={len(self.breaches)}, wins={len(self.wins)}, rejections="
            f"{sum(r.leads for r in self.rejections)})"
        )

    def to_frame(self) -> pl.DataFrame:
        """Every line of the digest: ``section``, ``line`` (cut at :attr:`limit`, as shown)."""
        rows = [(heading, line) for heading, lines in self.sections() for line in lines]
        return pl.DataFrame(rows, schema={"section": pl.String, "line": pl.String}, orient="row")

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain, JSON-ready values (times ISO 8601, money as exact strings), uncut."""
        return {
            "plan": self.plan,
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "time_zone": self.tz,
            "kpi_alerts": [attrs.asdict(a) for a in self.alerts],
            "sla_breaches": [{**attrs.asdict(b), "due": b.due.isoformat()} for b in self.breaches],
            "conformance": {
                "moved": self.moved,
                "by_team": [
                    {**attrs.asdict(t), "fitness": None if t.fitness is None else str(t.fitness)}
                    for t in self.conformance
                ],
            },
            "wins": [_win_dict(w) for w in self.wins],
            "rejections": [attrs.asdict(r) | {"examples": list(r.examples)} for r in self.rejections],
            "notes": list(self.notes),
        }

    def to_slack(self) -> dict[str, Any]:
        """The digest as a Slack message: Block Kit ``blocks`` and a plain ``text`` fallback.

        Examples:
            >>> import smarketing as sm
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> message = sm.digest(plan, example_dataset(), period="2026-10").to_slack()
            >>> [block["type"] for block in message["blocks"]][:4]
            ['header', 'context', 'section', 'section']
        """
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(self._subtitle())}]},
        ]
        sections = [*self.sections(), *([("Notes", list(self.notes))] if self.notes else [])]
        for heading, lines in sections[: _SLACK_BLOCKS - len(blocks)]:
            body = f"*{_mrkdwn(heading)}*\n" + "\n".join(f"• {_mrkdwn(line)}" for line in lines)
            if len(body) > _SLACK_TEXT:
                body = body[: _SLACK_TEXT - 1] + "…"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
        return {"text": self.title, "blocks": blocks}

    def to_email(self, *, sender: str, to: Sequence[str], subject: str | None = None) -> EmailMessage:
        """The digest as an e-mail: ``multipart/alternative`` with a text and an HTML part.

        Examples:
            >>> import smarketing as sm
            >>> from smarketing.testing.fixtures import example_dataset
            >>> plan = sm.load_plan("examples/plan.yaml")
            >>> d = sm.digest(plan, example_dataset(), period="2026-10")
            >>> mail = d.to_email(sender="revops@example.com", to=["team@example.com"])
            >>> mail.get_content_type(), [p.get_content_type() for p in mail.iter_parts()]
            ('multipart/alternative', ['text/plain', 'text/html'])
        """
        if not to:
            raise ValueError("an e-mail needs at least one recipient")
        for header in (subject or "", sender, *to):
            if not header.isprintable():
                raise ValueError(f"e-mail headers must not contain control characters: {header!r}")
        message = EmailMessage()
        message["Subject"] = subject or self.title
        message["From"] = sender
        message["To"] = ", ".join(to)
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


def _win_dict(win: Win) -> dict[str, Any]:
    return {
        "deal_id": win.deal_id,
        "lead_id": win.lead_id,
        "owner": win.owner,
        "close_date": win.close_date.isoformat(),
        "amount": _money_dict(win.amount),
        "credits": [
            {
                "touch_id": c.touch_id,
                "channel": c.channel,
                "campaign": c.campaign,
                "team": c.team,
                "share": c.share,
                "value": _money_dict(c.value),
            }
            for c in win.credits
        ],
    }


def _money_dict(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}


def _money(money: Money) -> str:
    return f"{money:,.{money.minor_units}f}"  # the format adds the currency code


def _time_text(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M %Z").strip()
    return moment.isoformat()


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _mrkdwn(text: str) -> str:
    """Text as Slack ``mrkdwn``: only ``&``, ``<`` and ``>`` are escaped (Slack's rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
