"""What reading stage events found: :class:`EventCounts`, shared by the funnel and conformance reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["EventCounts"]

#: Counts added after the first release: in ``to_dict`` only when not zero, so reports without such
#: anomalies read exactly as before.
_OPTIONAL_COUNTS = ("out_of_order", "skipped_step", "after_unknown_stage")


@attrs.frozen
class EventCounts:
    """What reading the stage events found, and how each kind of bad input was handled.

    Every event an analysis does not count is counted here, by why, with an example lead: nothing is left
    out silently.

    Attributes:
        events: Rows read.
        leads: Leads analysed (those with at least one event kept).
        duplicates: Events dropped as duplicates: the same lead, stage entered, stage left and time as an
            event kept.
        unknown_stage_events: Events into a stage the map does not have. The funnel sets them aside (they
            neither enter nor leave a stage); conformance counts each as an ``unknown_stage`` violation.
        unknown_stages: The ids of those stages, sorted.
        from_mismatch: Events whose ``from`` names another stage than the lead's previous event in time
            order: the trace of out-of-order timestamps or of a CRM that logs moves late. Time order wins;
            the ``from`` column is only checked, never used to reorder.
        after_as_of: Events later than ``as_of``, left out.
        out_of_order: Ordered funnel: entries into a step that no step counts because the lead entered an
            earlier step only after them (a "won" dated before the MQL).
        skipped_step: Ordered funnel: entries into a step that no step counts because the lead never
            entered the step before it (in order).
        after_unknown_stage: Conformance: moves out of a stage the map does not have, which cannot be judged
            (the move into the unknown stage is the violation).
        examples: For each count above that is not zero, the smallest lead id with such an event.
    """

    events: int
    leads: int
    duplicates: int = 0
    unknown_stage_events: int = 0
    unknown_stages: tuple[str, ...] = ()
    from_mismatch: int = 0
    after_as_of: int = 0
    out_of_order: int = 0
    skipped_step: int = 0
    after_unknown_stage: int = 0
    examples: Mapping[str, str] = attrs.field(factory=dict, eq=False)

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict (the newer anomaly counts and ``examples`` only when not zero)."""
        out = attrs.asdict(self)
        out["unknown_stages"] = list(self.unknown_stages)
        for name in _OPTIONAL_COUNTS:
            if not out[name]:
                del out[name]
        out["examples"] = dict(sorted(self.examples.items()))
        if not out["examples"]:
            del out["examples"]
        return out

    def lines(self) -> list[str]:
        """The non-zero counts as short sentences, for reprs and the CLI."""
        out = []
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate event(s) dropped" + self._example("duplicates"))
        if self.unknown_stage_events:
            names = ", ".join(self.unknown_stages[:5]) + (", ..." if len(self.unknown_stages) > 5 else "")
            out.append(
                f"{self.unknown_stage_events} event(s) into unknown stage(s): {names}"
                + self._example("unknown_stage_events")
            )
        if self.from_mismatch:
            out.append(
                f"{self.from_mismatch} event(s) whose 'from' disagrees with the time order"
                + self._example("from_mismatch")
            )
        if self.after_as_of:
            out.append(f"{self.after_as_of} event(s) after as_of left out" + self._example("after_as_of"))
        if self.out_of_order:
            out.append(
                f"{self.out_of_order} event(s) into a step dated before an earlier step, not counted"
                + self._example("out_of_order")
            )
        if self.skipped_step:
            out.append(
                f"{self.skipped_step} event(s) into a step whose previous step was skipped, not counted"
                + self._example("skipped_step")
            )
        if self.after_unknown_stage:
            out.append(
                f"{self.after_unknown_stage} move(s) out of an unknown stage, not judged"
                + self._example("after_unknown_stage")
            )
        return out

    def _example(self, name: str) -> str:
        lead = self.examples.get(name)
        return "" if lead is None else f" (e.g. lead {lead})"
