"""What the commands share: the one-line command error, loading the plan, synthetic data, ``--fx`` tables."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smarketing.cli._text import first_line
from smarketing.datasets import DEFAULT_END, synthetic
from smarketing.errors import ClosedCalendarError, SmarketingError
from smarketing.money import FxTable
from smarketing.plan import AlignmentPlan, load_plan
from smarketing.records import Dataset


class CommandError(Exception):
    """A problem to report in one line (none when already reported) and an exit code, no traceback."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def library_errors() -> Iterator[None]:
    """Turn a plain ``ValueError`` from a library underneath into a one-line :class:`CommandError`.

    A :class:`~smarketing.errors.SmarketingError` (also a ``ValueError``) goes on to :func:`main`.
    """
    try:
        yield
    except ValueError as error:
        if isinstance(error, SmarketingError):
            raise
        raise CommandError(first_line(error)) from None


def load_plan_file(path: Path) -> AlignmentPlan:
    """Load a plan; a ``PlanError`` reaches :func:`main`, which prints each problem on its own line."""
    try:
        return load_plan(path)
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None


def plan_zone(plan: AlignmentPlan) -> str:
    """The plan's time zone: its SLA calendar's, else UTC. A plain ``--as-of`` date is read in it."""
    return plan.sla.calendar.timezone if plan.sla is not None else "UTC"


def synthetic_data(plan: AlignmentPlan, args: argparse.Namespace) -> Dataset:
    """The synthetic data of ``--seed`` (default 42) and ``--leads``; a never-open calendar is refused."""
    try:
        return synthetic(plan, seed=42 if args.seed is None else args.seed, n_leads=args.leads)
    except ClosedCalendarError as error:
        raise CommandError(str(error)) from None


#: The exchange rate of synthetic data (``--fx USD/EUR=0.92``), unless ``--fx`` gives others.
DEMO_RATE = ("USD", "EUR", Decimal("0.92"))


#: The instant the synthetic data ends (the day after ``DEFAULT_END``, UTC): the demo's "now".
SYNTHETIC_AS_OF = datetime.combine(DEFAULT_END + timedelta(days=1), datetime.min.time(), UTC)


def fx_table(rates: Sequence[tuple[str, str, Decimal]]) -> FxTable | None:
    """The ``--fx`` rates (each checked by :func:`parse_fx_rate`) as one table, in force from 1970 on."""
    if not rates:
        return None
    try:
        return FxTable((base, quote, date(1970, 1, 1), rate) for base, quote, rate in rates)
    except (TypeError, ValueError) as error:  # the same pair twice with different rates
        raise CommandError(f"--fx: {error}") from None
