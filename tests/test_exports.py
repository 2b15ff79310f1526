"""Guard the public API, as httpx's test_exported_members.py and pydantic's test_exports.py do."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from types import ModuleType

import pytest

import smarketing


def public_modules() -> list[str]:
    walked = pkgutil.walk_packages(smarketing.__path__, prefix="smarketing.")
    names = [info.name for info in walked if not any(part.startswith("_") for part in info.name.split("."))]
    return sorted(["smarketing", *names])


MODULES = public_modules()


def module_params() -> list[object]:
    return [pytest.param(name, id=name) for name in MODULES]


def test_walk_finds_the_topic_modules() -> None:
    expected = {
        "smarketing",
        "smarketing.calendar",
        "smarketing.errors",
        "smarketing.glossary",
        "smarketing.journey",
        "smarketing.kpi",
        "smarketing.money",
        "smarketing.persona",
        "smarketing.plan",
        "smarketing.records",
        "smarketing.rewards",
        "smarketing.sla",
        "smarketing.teams",
    }
    assert expected <= set(MODULES)
    assert not [m for m in MODULES if "._" in m]


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", module_params())
def test_all_exists_without_duplicates(name: str) -> None:
    module = _module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{name} has no __all__"
    assert all(isinstance(item, str) for item in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted(name: str) -> None:
    exported = list(_module(name).__all__)
    assert exported == sorted(exported)


@pytest.mark.parametrize("name", module_params())
def test_every_exported_name_resolves(name: str) -> None:
    module = _module(name)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what the module does not have: {missing}"


@pytest.mark.parametrize("name", module_params())
def test_no_private_name_is_exported(name: str) -> None:
    leaked = [item for item in _module(name).__all__ if item.startswith("_") and item != "__version__"]
    assert not leaked, f"{name} exports private names: {leaked}"


@pytest.mark.parametrize("name", module_params())
def test_public_classes_and_functions_are_exported(name: str) -> None:
    """A public class or function defined in a module is either in its ``__all__`` or made private."""
    module = _module(name)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert defined <= set(module.__all__), (
        f"{name} defines but does not export {defined - set(module.__all__)}"
    )


@pytest.mark.parametrize("item", sorted(set(smarketing.__all__) - {"__version__"}))
def test_top_level_exports_are_documented(item: str) -> None:
    obj = getattr(smarketing, item)
    doc = obj.__doc__ if inspect.isfunction(obj) else vars(obj).get("__doc__")
    assert doc, f"smarketing.{item} has no docstring of its own"
    assert doc.strip().split("\n", 1)[0].endswith("."), (
        f"smarketing.{item}: summary line should be a sentence"
    )


@pytest.mark.parametrize("item", sorted(set(smarketing.__all__) - {"__version__"}))
def test_top_level_names_come_from_public_modules(item: str) -> None:
    obj = getattr(smarketing, item)
    home = obj.__module__
    assert home in MODULES, f"smarketing.{item} lives in {home}, which is not public"
    assert item in _module(home).__all__, f"{home}.__all__ should export {item} too"


def test_version_comes_from_metadata() -> None:
    assert smarketing.__version__ == importlib.metadata.version("smarketing")
    assert "__version__" in smarketing.__all__
