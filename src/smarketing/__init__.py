"""smarketing: sales and marketing alignment as typed models and pure functions."""

from importlib.metadata import version as _version

__version__ = _version("smarketing")
__all__ = ["__version__"]
