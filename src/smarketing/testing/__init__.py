"""Test helpers for smarketing users and plugin authors.

This subpackage needs the optional ``testing`` extra (``pip install smarketing[testing]``), which
brings in Hypothesis; nothing else in smarketing imports it.

* :mod:`smarketing.testing.strategies`: Hypothesis strategies for smarketing values (currencies,
  money, allocation weights), for writing property-based tests of code built on smarketing.

Examples:
    >>> from smarketing.testing import strategies
    >>> "moneys" in strategies.__all__
    True
"""

from smarketing.testing import strategies

__all__ = ["strategies"]
