"""The state file of an incremental connector: a watermark per object, kept by the user (private).

``{"watermarks": {"contacts": "2026-10-01T09:00:00+00:00", ...}}``: each object's records are read from
its own watermark on the next run. The file is written whole or not at all (a temporary file, then
``os.replace``), only after a successful load.

Examples:
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> path = Path(tempfile.mkdtemp()) / "state.json"
    >>> read_watermarks(path, "hubspot")
    {}
    >>> write_watermarks(path, {"contacts": datetime(2026, 10, 1, 9, tzinfo=UTC)})
    >>> read_watermarks(path, "hubspot")
    {'contacts': datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.timezone.utc)}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from smarketing.errors import DataError

__all__ = ["read_watermarks", "write_watermarks"]


def read_watermarks(path: Path, connector: str) -> dict[str, datetime]:
    """Object -> its watermark, from ``path`` (none when the file does not exist: the first run).

    Raises:
        DataError: The file is not such a state file, or a watermark has no UTC offset (naming it).
    """
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["watermarks"]
        marks = {str(obj): datetime.fromisoformat(str(value)) for obj, value in raw.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a {connector} state file ({exc})") from None
    for obj, when in marks.items():
        if when.tzinfo is None:
            raise DataError(f"{path}: the watermark of {obj} has no offset")
    return marks


def write_watermarks(path: Path, marks: Mapping[str, datetime]) -> None:
    """Write the watermarks to ``path`` at once (a temporary file beside it, then replaced)."""
    body = {"watermarks": {obj: when.isoformat() for obj, when in sorted(marks.items())}}
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
