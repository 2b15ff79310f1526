"""Test helpers for smarketing users and plugin authors.

This subpackage needs the optional ``testing`` extra (``pip install smarketing[testing]``), which
brings in Hypothesis; nothing else in smarketing imports it.

* :mod:`smarketing.testing.strategies`: Hypothesis strategies for smarketing values (currencies,
  money, allocation weights), for writing property-based tests of code built on smarketing.
* :class:`ConnectorContract` (:mod:`smarketing.testing.contract`): the pytest base class a connector's
  test suite subclasses; it checks what the connector loads against the plan (stages, histories, splits,
  currencies, ids and references, repeatable and incremental loads).

Examples:
    >>> from smarketing.testing import strategies
    >>> "moneys" in strategies.__all__
    True
"""

from smarketing.testing import strategies
from smarketing.testing.contract import ConnectorContract

__all__ = ["ConnectorContract", "strategies"]
