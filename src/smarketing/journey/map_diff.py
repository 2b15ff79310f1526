"""The difference of two journey maps, and a merged proposal: :func:`diff` and :class:`JourneyDiff`."""

from __future__ import annotations

from typing import Any, Literal

import attrs
import polars as pl

from smarketing import _display
from smarketing._base import FrozenModel
from smarketing.journey.model import JourneyMap, Stage, Transition

__all__ = ["Change", "JourneyDiff", "diff"]


@attrs.frozen
class Change:
    """One field that two maps define differently.

    ``element`` is ``"stage"`` or ``"transition"``; ``id`` the stage id or ``"from -> to"``.
    """

    element: Literal["stage", "transition"]
    id: str
    field: str
    a: Any
    b: Any

    def __str__(self) -> str:
        return f"{self.element} {self.id}: {self.field} {self.a!r} -> {self.b!r}"


@attrs.frozen
class JourneyDiff:
    """What changes from map ``a`` to map ``b``, and a merged proposal.

    Attributes:
        stages_added: Stages of ``b`` that ``a`` lacks (in ``b``'s order).
        stages_removed: Stages of ``a`` that ``b`` lacks (in ``a``'s order).
        transitions_added: Transitions (by ``from``/``to``) of ``b`` that ``a`` lacks.
        transitions_removed: Transitions of ``a`` that ``b`` lacks.
        changes: Fields of common stages and transitions that differ (stages first, then transitions, in
            ``a``'s order, fields in model order).
        merged: The proposal: every stage and transition of either map (``a``'s first, then ``b``'s
            additions); where both define a field differently, ``a``'s value is kept and the change is a
            conflict to settle.
    """

    stages_added: tuple[Stage, ...]
    stages_removed: tuple[Stage, ...]
    transitions_added: tuple[Transition, ...]
    transitions_removed: tuple[Transition, ...]
    changes: tuple[Change, ...]
    merged: JourneyMap

    @property
    def conflicts(self) -> tuple[Change, ...]:
        """The changes the merged proposal could not settle (it kept ``a``'s value for each)."""
        return self.changes

    def __bool__(self) -> bool:
        return bool(
            self.stages_added
            or self.stages_removed
            or self.transitions_added
            or self.transitions_removed
            or self.changes
        )

    def _rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        rows += [["stage", s.id, "added", None, None, None] for s in self.stages_added]
        rows += [["stage", s.id, "removed", None, None, None] for s in self.stages_removed]
        rows += [
            ["transition", f"{t.source} -> {t.to}", "added", None, None, None] for t in self.transitions_added
        ]
        rows += [
            ["transition", f"{t.source} -> {t.to}", "removed", None, None, None]
            for t in self.transitions_removed
        ]
        rows += [[c.element, c.id, "changed", c.field, _text(c.a), _text(c.b)] for c in self.changes]
        return rows

    def to_frame(self) -> pl.DataFrame:
        """One row per difference: ``element``, ``id``, ``change``, ``field``, ``a``, ``b`` (as text)."""
        return pl.DataFrame(
            self._rows(),
            schema={c: pl.String() for c in ("element", "id", "change", "field", "a", "b")},
            orient="row",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ids of added and removed parts, the changes, and the merged map (plan-file form)."""
        return {
            "stages_added": [s.id for s in self.stages_added],
            "stages_removed": [s.id for s in self.stages_removed],
            "transitions_added": [[t.source, t.to] for t in self.transitions_added],
            "transitions_removed": [[t.source, t.to] for t in self.transitions_removed],
            "changes": [attrs.asdict(c) for c in self.changes],
            "merged": self.merged.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        }

    def __repr__(self) -> str:
        headers = ["element", "id", "change", "field", "a", "b"]
        if not self:
            return "JourneyDiff(no differences)"
        return f"JourneyDiff({len(self._rows())} difference(s))\n" + _display.text_table(
            headers, self._rows()
        )

    def _repr_html_(self) -> str:
        headers = ["element", "id", "change", "field", "a", "b"]
        return _display.html_table(
            headers, self._rows(), caption=f"JourneyDiff: {len(self._rows())} difference(s)"
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _changes(
    element: Literal["stage", "transition"], key: str, a: FrozenModel, b: FrozenModel
) -> list[Change]:
    da, db = a.model_dump(by_alias=True), b.model_dump(by_alias=True)
    return [Change(element, key, name, da[name], db[name]) for name in da if da[name] != db[name]]


def diff(a: JourneyMap, b: JourneyMap) -> JourneyDiff:
    """Stages and transitions added, removed or changed from ``a`` to ``b``, and a merged proposal.

    Stages are matched by id, transitions by (``from``, ``to``). Every field is compared (owner, kind,
    terminal flag, name, ...). The merged proposal is a valid map with every part of either map; where the two
    disagree on a field it keeps ``a``'s value and lists the change in ``conflicts``.

    Examples:
        >>> marketing = JourneyMap.model_validate(
        ...     {
        ...         "stages": [
        ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
        ...             {"id": "sql", "name": "SQL", "owner": "marketing", "kind": "sql"},
        ...         ],
        ...         "transitions": [{"from": "mql", "to": "sql"}],
        ...     }
        ... )
        >>> sales = JourneyMap.model_validate(
        ...     {
        ...         "stages": [
        ...             {"id": "mql", "name": "MQL", "owner": "marketing", "kind": "mql"},
        ...             {"id": "sql", "name": "SQL", "owner": "sales", "kind": "sql"},
        ...             {"id": "won", "name": "Won", "owner": "sales", "kind": "customer", "terminal": "won"},
        ...         ],
        ...         "transitions": [
        ...             {"from": "mql", "to": "sql", "kind": "handoff"},
        ...             {"from": "sql", "to": "won"},
        ...         ],
        ...     }
        ... )
        >>> d = diff(marketing, sales)
        >>> [s.id for s in d.stages_added]
        ['won']
        >>> for change in d.conflicts:
        ...     print(change)
        stage sql: owner 'marketing' -> 'sales'
        transition mql -> sql: kind 'progression' -> 'handoff'
        >>> [s.id for s in d.merged.stages], d.merged.stage("sql").owner
        (['mql', 'sql', 'won'], 'marketing')
    """
    stages_a = {s.id: s for s in a.stages}
    stages_b = {s.id: s for s in b.stages}
    trans_a = {(t.source, t.to): t for t in a.transitions}
    trans_b = {(t.source, t.to): t for t in b.transitions}
    changes: list[Change] = []
    for sid, s in stages_a.items():
        if sid in stages_b:
            changes += _changes("stage", sid, s, stages_b[sid])
    for pair, t in trans_a.items():
        if pair in trans_b:
            changes += _changes("transition", f"{pair[0]} -> {pair[1]}", t, trans_b[pair])
    added = tuple(s for sid, s in stages_b.items() if sid not in stages_a)
    new_transitions = tuple(t for pair, t in trans_b.items() if pair not in trans_a)
    merged = JourneyMap(stages=[*a.stages, *added], transitions=[*a.transitions, *new_transitions])
    return JourneyDiff(
        stages_added=added,
        stages_removed=tuple(s for sid, s in stages_a.items() if sid not in stages_b),
        transitions_added=new_transitions,
        transitions_removed=tuple(t for pair, t in trans_a.items() if pair not in trans_b),
        changes=tuple(changes),
        merged=merged,
    )
