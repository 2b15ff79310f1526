"""The connector registry: built-ins imported lazily, plugins by entry point, names and options checked.

Plugins are brought in without installing them: ``smarketing._plugins.entry_points`` is replaced by fake
entry points (as in ``tests/hostile/test_plugins.py``); built-ins by a small module on ``sys.path``.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from smarketing import _plugins
from smarketing.connectors import registry
from smarketing.connectors.registry import (
    ENTRY_POINT_GROUP,
    ConnectorOption,
    available_connectors,
    load_connector,
)
from smarketing.errors import DataError, PluginError, PluginWarning

BUILTIN_MODULE = '''
from __future__ import annotations

from pathlib import Path


class Folder:
    """Read a folder of files.

    Longer text.

    Args:
        path: The folder to read.
        time_zone: The zone of times without an offset,
            never guessed.
        strict_headers: Refuse unknown headers.
    """

    name = "files"

    def __init__(
        self, *, path: str | Path, time_zone: str | None = None, strict_headers: bool = True
    ) -> None:
        if str(path) == "raise":
            raise FileNotFoundError(path)
        if str(path) == "data":
            from smarketing.errors import DataError
            raise DataError("no such folder", field="path")
        if str(path) == "exit":
            raise SystemExit(3)
        self.path = path
        self.time_zone = time_zone

    def load(self, *, strict: bool = True, progress: bool | None = None) -> object:
        return None
'''


class FakeDist:
    def __init__(self, name: str) -> None:
        self.name = name


class FakePoint:
    """An entry point whose ``load()`` runs ``loader`` (which may return, raise or exit)."""

    def __init__(self, name: str, loader: Callable[[], object], dist: str | None = "acme-crm") -> None:
        self.name = name
        self.value = f"acme_{name.replace('-', '_')}:Connector"
        self.group = ENTRY_POINT_GROUP
        self.dist = None if dist is None else FakeDist(dist)
        self._loader = loader

    def load(self) -> object:
        return self._loader()


class Acme:
    """Read the Acme CRM.

    Args:
        token: Not used offline.
    """

    name = "acme"

    def __init__(self, *, token: str = "t", **extra: object) -> None:
        self.token = token
        self.extra = extra

    def load(self, *, strict: bool = True, progress: bool | None = None) -> object:
        return None


@pytest.fixture
def builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "fake_builtin_connector.py").write_text(BUILTIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        registry,
        "BUILTIN",
        MappingProxyType(
            {"files": "fake_builtin_connector:Folder", "hubspot-export": "fake_builtin_connector:Missing"}
        ),
    )
    yield
    sys.modules.pop("fake_builtin_connector", None)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    def install(*points: FakePoint) -> None:
        ordered = tuple(sorted(points, key=lambda p: (p.name, p.value)))
        monkeypatch.setattr(
            _plugins, "entry_points", lambda group: ordered if group == ENTRY_POINT_GROUP else ()
        )
        registry._installed.cache_clear()

    registry._installed.cache_clear()
    install()
    yield install
    registry._installed.cache_clear()


def _quiet_available() -> dict[str, Any]:
    with pytest.warns(PluginWarning, match="hubspot-export: failed to load"):
        return dict(available_connectors())


def test_the_group_is_one_the_loader_knows() -> None:
    assert ENTRY_POINT_GROUP in _plugins.GROUPS


def test_builtin_lists_its_options_from_signature_and_docstring(
    builtins: None, plugins: Callable[..., None]
) -> None:
    info = _quiet_available()["files"]
    assert info.summary == "Read a folder of files."
    assert info.origin == "smarketing"
    assert info.options == (
        ConnectorOption("path", "str | Path", None, True, "The folder to read."),
        ConnectorOption(
            "time_zone", "str | None", "None", False, "The zone of times without an offset, never guessed."
        ),
        ConnectorOption("strict_headers", "bool", "True", False, "Refuse unknown headers."),
    )
    assert info.option("time_zone") is not None
    assert info.option("nope") is None


def test_plugin_listed_with_its_distribution(builtins: None, plugins: Callable[..., None]) -> None:
    plugins(FakePoint("acme", lambda: Acme))
    found = _quiet_available()
    assert list(found) == sorted(found)
    assert found["acme"].origin == "acme-crm"
    assert found["acme"].target == "acme_acme:Connector"
    connector = load_connector("acme", token="x", region="eu")
    assert isinstance(connector, Acme)
    assert connector.extra == {"region": "eu"}


def test_plugin_without_distribution_names_its_module(plugins: Callable[..., None]) -> None:
    plugins(FakePoint("acme", lambda: Acme, dist=None))
    assert registry._installed()[0]["acme"].info.origin == "acme_acme"


def test_load_builtin_with_options(builtins: None, plugins: Callable[..., None]) -> None:
    connector = load_connector("files", path="export", time_zone="Europe/Berlin")
    assert connector.time_zone == "Europe/Berlin"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("file", "unknown connector 'file'; did you mean 'files'?"),
        ("hubspot", "unknown connector 'hubspot'; did you mean 'hubspot-export'?"),
        (
            "zzz",
            r"unknown connector 'zzz' "
            r"\(available: acme, files, hubspot-export, salesforce-export, warehouse\)",
        ),
    ],
)
def test_unknown_name_gets_a_did_you_mean(plugins: Callable[..., None], name: str, message: str) -> None:
    plugins(FakePoint("acme", lambda: Acme))
    with pytest.raises(PluginError, match=message) as caught:
        load_connector(name)
    assert caught.value.group == ENTRY_POINT_GROUP


def test_unknown_option_names_the_options(builtins: None, plugins: Callable[..., None]) -> None:
    with pytest.raises(
        PluginError,
        match=r"files: unknown option 'timezone'; did you mean 'time_zone'\? "
        r"its options: path, time_zone, strict_headers",
    ):
        load_connector("files", path="x", timezone="UTC")


def test_missing_option_is_named(builtins: None, plugins: Callable[..., None]) -> None:
    with pytest.raises(PluginError, match="files: missing option 'path'; its options: path, time_zone"):
        load_connector("files")


def test_connector_failing_to_be_made_is_named(builtins: None, plugins: Callable[..., None]) -> None:
    with pytest.raises(PluginError, match="files: cannot be made: FileNotFoundError: raise") as caught:
        load_connector("files", path="raise")
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    with pytest.raises(PluginError, match="files: cannot be made: SystemExit: 3"):
        load_connector("files", path="exit")


def test_data_error_passes_through(builtins: None, plugins: Callable[..., None]) -> None:
    with pytest.raises(DataError, match="path: no such folder"):
        load_connector("files", path="data")


def test_builtin_that_cannot_be_imported_is_a_plugin_error(
    builtins: None, plugins: Callable[..., None]
) -> None:
    with pytest.raises(PluginError, match=r"hubspot-export: failed to load .*Missing"):
        load_connector("hubspot-export")


def _boom() -> object:
    raise ImportError("No module named 'acme_sdk'")


def _exit() -> object:
    raise SystemExit(1)


@pytest.mark.parametrize(
    ("loader", "message"),
    [
        (_boom, r"smarketing.connectors: broken: failed to load .*No module named 'acme_sdk'"),
        (_exit, r"smarketing.connectors: broken: failed to load .*SystemExit: 1"),
        (lambda: 42, r"smarketing.connectors: broken: not a usable connector .*42 is not a connector class"),
        (lambda: object, r"broken: not a usable connector .*is not a connector class"),
    ],
    ids=["import-error", "exit", "not-a-class", "no-load"],
)
def test_broken_plugin_warns_and_the_others_load(
    plugins: Callable[..., None], loader: Callable[[], object], message: str
) -> None:
    plugins(FakePoint("broken", loader), FakePoint("acme", lambda: Acme))
    with pytest.warns(PluginWarning, match=message):
        plugins_found, broken = registry._installed()
    assert set(plugins_found) == {"acme"}
    assert set(broken) == {"broken"}
    with pytest.raises(PluginError, match=message.removeprefix("smarketing.connectors: ")):
        load_connector("broken")
    assert isinstance(load_connector("acme"), Acme)


def test_plugin_taking_a_builtin_name_is_ignored(plugins: Callable[..., None]) -> None:
    plugins(FakePoint("files", lambda: Acme))
    with pytest.warns(PluginWarning, match="files: .*uses the built-in name 'files'; the plugin is ignored"):
        found, broken = registry._installed()
    assert "files" not in found
    assert "files" not in broken


def test_name_registered_twice_is_refused(plugins: Callable[..., None]) -> None:
    first, second = FakePoint("acme", lambda: Acme), FakePoint("acme", lambda: Acme)
    second.value = "other_acme:Connector"
    plugins(first, second)
    with pytest.warns(PluginWarning, match="acme: registered twice .*uninstall one"):
        found, _ = registry._installed()
    assert "acme" not in found
    with pytest.raises(PluginError, match="registered twice"):
        load_connector("acme")


def test_connector_names_must_be_text(plugins: Callable[..., None]) -> None:
    with pytest.raises(TypeError, match="a connector name must be text, not int"):
        load_connector(3)  # type: ignore[arg-type]


def test_option_help_reads_google_args() -> None:
    doc = textwrap.dedent(
        """Summary.

        Args:
            path (str): The folder.
            **options: Passed on,
                as they are.

        Raises:
            DataError: never listed as an option.
        """
    )
    assert registry.option_help(doc) == {"path": "The folder.", "options": "Passed on, as they are."}
    assert registry.option_help(None) == {}
    assert registry.option_help("No sections.") == {}


def test_a_connector_must_answer_to_its_name(plugins: Callable[..., None]) -> None:
    class Other(Acme):
        name = "other"

    class Raises(Acme):
        @property
        def name(self) -> str:  # type: ignore[override]
            raise RuntimeError("no name")

    plugins(FakePoint("acme", lambda: Other), FakePoint("raises", lambda: Raises))
    with pytest.raises(
        PluginError, match="acme: acme_acme:Connector names itself 'other'; the connector's name"
    ):
        load_connector("acme")
    with pytest.raises(PluginError, match="raises: cannot be made: RuntimeError: no name"):
        load_connector("raises")
