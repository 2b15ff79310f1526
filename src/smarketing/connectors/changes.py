"""Incremental loads applied to the dataset they change: records replaced by id, deletions removed.

An incremental load (``load_changes``, ``sync``) holds the records changed since the last one and, in its
report, the ids deleted from the source meanwhile (:attr:`~smarketing.connectors.LoadReport.deleted`).
:func:`apply_changes` brings a dataset up to date with one: what a fresh full load would give. Both live
connectors give it what it needs: ``hubspot`` reads each changed record, and the contact of a changed
record with its whole history; ``salesforce`` reads every lead a changed or deleted record belongs to
whole (its records all have ids, and its stage events are replaced as a lead's are).

Examples:
    >>> import polars as pl
    >>> from datetime import UTC, datetime
    >>> from smarketing.connectors import Loaded, LoadReport
    >>> from smarketing.records import Dataset
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> base = Dataset(leads=pl.DataFrame({"id": ["L1", "L2"], "created_at": [t, t]}))
    >>> change = Loaded(Dataset(), LoadReport("crm", deleted={"leads": ["L2"]}))
    >>> apply_changes(base, change).leads.get_column("id").to_list()
    ['L1']
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from smarketing.connectors.report import Loaded
from smarketing.records import RECORD_KINDS, Dataset
from smarketing.records._references import RECORD_REFERENCES

__all__ = ["apply_changes"]

#: References whose record cannot be without the record referred to (the column is required).
_OWNED = {
    ("touchpoints", "lead_id"),
    ("stage_events", "lead_id"),
    ("activities", "lead_id"),
    ("dispositions", "lead_id"),
}


def apply_changes(base: Dataset, changes: Loaded) -> Dataset:
    """``base`` with an incremental load applied: changed records replace theirs, deleted ones go.

    - a record with an id that ``changes`` holds replaces the record of that id (it changed);
    - a lead's stage events are replaced by the load's when the load holds the lead (its history is read
      whole), other records without an id (dispositions) are added once;
    - the records deleted (``changes.report.deleted``) are removed, and so are the records that cannot
      be without them (a deleted lead's touchpoints, stage events, activities and dispositions); a
      reference that may be empty (a deal's lead, a lead's account) is emptied, as the source now has it.

    Args:
        base: The dataset as the last loads left it.
        changes: An incremental load of the same source.

    Returns:
        The dataset a full load of the source would give now.
    """
    new = changes.dataset
    frames: dict[str, pl.DataFrame] = {}
    changed_leads = new.leads.get_column("id")
    for kind in RECORD_KINDS:
        old, fresh = getattr(base, kind), getattr(new, kind)
        if "id" in old.columns:
            old = old.filter(~pl.col("id").is_in(fresh.get_column("id").implode()))
        elif kind == "stage_events":
            old = old.filter(~pl.col("lead_id").is_in(changed_leads.implode()))
        frame = pl.concat([old, fresh], how="vertical_relaxed")
        if "id" not in frame.columns:
            frame = frame.unique(maintain_order=True)
        frames[kind] = frame
    return Dataset(**_without(frames, changes.report.deleted))


def _without(
    frames: dict[str, pl.DataFrame], deleted: Mapping[str, tuple[str, ...]]
) -> dict[str, pl.DataFrame]:
    """``frames`` without the deleted records and what hangs on them."""
    out = dict(frames)
    for kind, ids in deleted.items():
        if kind in out and "id" in out[kind].columns:
            out[kind] = out[kind].filter(~pl.col("id").is_in(list(ids)))
    for kind, column, target in RECORD_REFERENCES:
        gone = list(deleted.get(target, ()))
        if not gone or kind not in out or column not in out[kind].columns:
            continue
        hit = pl.col(column).is_in(gone)
        if (kind, column) in _OWNED:
            out[kind] = out[kind].filter(~hit.fill_null(False))
        else:
            out[kind] = out[kind].with_columns(
                pl.when(hit).then(None).otherwise(pl.col(column)).alias(column)
            )
    return out
