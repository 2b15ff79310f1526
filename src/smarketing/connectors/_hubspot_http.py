"""The HubSpot API as the ``hubspot`` connector reads it: pages, search windows, batches, limits, secrets.

Every call goes through HubSpot's official Python client (``hubspot-api-client``, the ``[hubspot]`` extra),
pointed at ``host`` (HubSpot's, or a fake server in the tests), with its urllib3 ``Retry`` for 429 and 5xx
answers (``Retry-After`` respected, exponential backoff without it) and a timeout on every request. The
answers are read as the JSON HubSpot sends (``_preload_content=False``), so the connector depends on the
documented response shapes, not on the client's generated models.

What a well-behaved reader does, and where:

- **pages**: ``paging.next.after`` followed to the end (:meth:`HubSpotHTTP.pages`); with property history a
  page holds at most 50 records (HubSpot's cap), else 100.
- **414**: the properties of a list request are split into batches whose query stays under ``url_limit``
  characters, and the batches' records merged by id (:func:`property_batches`).
- **search**: at most one search request per ``search_interval`` seconds (HubSpot allows 5 a second), and a
  time window whose results pass the cap of 10,000 is split in two until each half is under it.
- **limits**: a 429 left after the retries is an error that says whether the daily budget is spent.
- **secrets**: the token is read from the environment or a keyring when the first request is made, and
  redacted from every message this module makes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from tqdm import tqdm

from smarketing.errors import SmarketingError

__all__ = ["HubSpotAPIError", "HubSpotHTTP", "SEARCH_CAP", "property_batches"]

#: HubSpot's search returns at most this many results for one query, whatever the paging.
SEARCH_CAP: Final = 10_000
_PAGE: Final = 100
_HISTORY_PAGE: Final = 50  # "propertiesWithHistory" caps a page at 50 records
_BATCH: Final = 100
_RETRY_STATUSES: Final = (429, 500, 502, 503, 504)


class HubSpotAPIError(SmarketingError, OSError):
    """HubSpot refused a request or could not be reached; the message never holds the token.

    Attributes:
        status: The HTTP status of the last answer, ``None`` when there was none.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(f"hubspot: {message}")
        self.status = status


def property_batches(names: Sequence[str], *, limit: int) -> list[list[str]]:
    """``names`` split so that each batch, written as ``properties=`` query parameters, fits in ``limit``.

    Examples:
        >>> property_batches(["a" * 10, "b" * 10, "c" * 10], limit=50)
        [['aaaaaaaaaa', 'bbbbbbbbbb'], ['cccccccccc']]
    """
    batches: list[list[str]] = [[]]
    size = 0
    for name in names:
        cost = len("&properties=") + len(name)
        if batches[-1] and size + cost > limit:
            batches.append([])
            size = 0
        batches[-1].append(name)
        size += cost
    return [b for b in batches if b]


def _token(env: str, keyring_service: str | None) -> str:
    """The private app's access token: from the environment, else from the keyring, else an error."""
    token = os.environ.get(env, "").strip()
    if token:
        return token
    if keyring_service is not None:
        try:
            import keyring  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415  # optional
        except ImportError:
            keyring = None
        if keyring is not None:
            found = keyring.get_password(keyring_service, "access_token")
            if found:
                return str(found)
    where = f"the environment variable {env}"
    if keyring_service is not None:
        where += f" or the keyring (service {keyring_service!r}, user 'access_token')"
    raise HubSpotAPIError(f"no access token: set {where} to a private app's token")


class HubSpotHTTP:
    """The requests of one load, made through HubSpot's official client.

    Args:
        host: The API's base address (``https://api.hubapi.com``).
        token_env: The environment variable holding the token.
        keyring_service: The keyring service to read the token from when the variable is not set.
        timeout: Seconds before a request is given up (connect and read).
        retries: How many times a 429 or 5xx answer is retried.
        backoff: The backoff factor between retries without ``Retry-After`` (seconds, doubled each time).
        search_interval: The least time between two search requests (seconds).
        url_limit: The longest properties query a list request may send (avoids HTTP 414).
        search_cap: The most results one search query returns (HubSpot's :data:`SEARCH_CAP`).
    """

    def __init__(
        self,
        *,
        host: str,
        token_env: str,
        keyring_service: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        search_interval: float,
        url_limit: int,
        search_cap: int = SEARCH_CAP,
    ) -> None:
        self.host = host.rstrip("/")
        self.token_env = token_env
        self.keyring_service = keyring_service
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.search_interval = search_interval
        self.url_limit = url_limit
        self.search_cap = search_cap
        self.progress = False  # a progress bar per object on standard error, set per load
        self.requests = 0
        self._client: Any = None
        self._secret = ""
        self._last_search = float("-inf")

    def __repr__(self) -> str:  # never the token
        return f"HubSpotHTTP(host={self.host!r})"

    def _api(self) -> Any:
        if self._client is None:
            try:
                import hubspot  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415  # the extra
                from urllib3.util.retry import Retry  # noqa: PLC0415
            except ImportError:
                raise HubSpotAPIError(
                    "the hubspot connector needs HubSpot's client: pip install 'smarketing[hubspot]'"
                ) from None
            self._secret = _token(self.token_env, self.keyring_service)
            retry = Retry(
                total=self.retries,
                backoff_factor=self.backoff,
                status_forcelist=_RETRY_STATUSES,
                allowed_methods=None,  # search and batch reads are POSTs that change nothing
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            self._client = hubspot.HubSpot(access_token=self._secret, retry=retry, host=self.host)
        return self._client

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "[redacted]") if self._secret else text

    def call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request's JSON answer, or :class:`HubSpotAPIError` saying what went wrong (token redacted)."""
        self.requests += 1
        try:
            answer = method(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
        except Exception as exc:  # the client's ApiException, urllib3's errors: all become one error
            raise self._error(what, exc) from None
        return json.loads(answer.data or b"{}")

    def _error(self, what: str, exc: Exception) -> HubSpotAPIError:
        status = getattr(exc, "status", None)
        body = self._redact(str(getattr(exc, "body", "") or ""))
        if status == 429:
            daily = "daily" in body.lower()
            why = (
                "the account's daily API limit is spent; the load can go on after HubSpot's daily reset "
                "(midnight in the portal's time zone)"
                if daily
                else f"still rate limited (HTTP 429) after {self.retries} retries; try again later or "
                "raise retries/backoff"
            )
            return HubSpotAPIError(f"{what}: {why}", status=429)
        if status in (401, 403):
            why = "the token was refused: check the private app's token and its scopes (see the how-to)"
            return HubSpotAPIError(f"{what}: HTTP {status}: {why}: {body[:200]}", status=status)
        if status == 414:
            why = "the request's address is too long; lower url_limit"
            return HubSpotAPIError(f"{what}: HTTP 414: {why}", status=414)
        if status is not None:
            return HubSpotAPIError(f"{what}: HTTP {status}: {body[:300]}", status=status)
        return HubSpotAPIError(f"{what}: {self._redact(type(exc).__name__ + ': ' + str(exc))[:300]}")

    def show(self, progress: bool | None) -> None:
        """Show progress bars in the next requests: ``None`` only when standard error is a terminal."""
        self.progress = sys.stderr.isatty() if progress is None else progress

    def _bar(self, what: str) -> tqdm[Any]:
        return tqdm(desc=f"hubspot: {what}", unit=" records", disable=not self.progress, leave=False)

    def pages(
        self, object_type: str, properties: Sequence[str], history: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Every live record of ``object_type``: its properties and history (batches merged by id)."""
        merged: dict[str, dict[str, Any]] = {}
        with self._bar(f"reading {object_type}") as bar:
            for number, batch in enumerate(property_batches(properties, limit=self.url_limit)):
                self._pages(object_type, batch, list(history) if number == 0 else [], merged, bar)
        return list(merged.values())

    def _pages(
        self,
        object_type: str,
        batch: list[str],
        with_history: list[str],
        merged: dict[str, dict[str, Any]],
        bar: tqdm[Any],
    ) -> None:
        """The pages of one batch of properties, merged into ``merged`` by id."""
        basic = self._api().crm.objects.basic_api
        after: str | None = None
        while True:
            options: dict[str, Any] = {"limit": _HISTORY_PAGE if with_history else _PAGE}
            if with_history:
                options["properties_with_history"] = with_history
            if after is not None:
                options["after"] = after
            what = f"reading {object_type}"
            page = self.call(what, basic.get_page, object_type, properties=batch, archived=False, **options)
            for record in page.get("results", []):
                _merge(merged, record)
            bar.update(len(page.get("results", [])))
            after = _next(page)
            if after is None:
                return

    def archived(self, object_type: str, since_ms: int, until_ms: int) -> list[str]:
        """Ids of the records of ``object_type`` archived (deleted) in ``[since_ms, until_ms)``.

        HubSpot's search never returns archived records, so the list of archived records
        (``archived=true``) is paged through and filtered by ``archivedAt``.
        """
        basic = self._api().crm.objects.basic_api
        out: list[str] = []
        after: str | None = None
        while True:
            options: dict[str, Any] = {"limit": _PAGE}
            if after is not None:
                options["after"] = after
            what = f"reading archived {object_type}"
            page = self.call(what, basic.get_page, object_type, properties=[], archived=True, **options)
            for record in page.get("results", []):
                when = record.get("archivedAt")
                if when is not None and since_ms <= _millis(when) < until_ms:
                    out.append(str(record["id"]))
            after = _next(page)
            if after is None:
                return out

    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        history: Sequence[str],
        *,
        id_property: str | None = None,
    ) -> list[dict[str, Any]]:
        """The live records of ``ids`` (batch read, 100 a request); ids HubSpot does not have are left out.

        With ``id_property`` the ids are values of that property (``email``), not record ids.
        """
        batch_api = self._api().crm.objects.batch_api
        merged: dict[str, dict[str, Any]] = {}
        bar = self._bar(f"reading changed {object_type}")
        for start in range(0, len(ids), _BATCH):
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in ids[start : start + _BATCH]],
                "properties": list(properties),
                "propertiesWithHistory": list(history),
            }
            if id_property is not None:
                body["idProperty"] = id_property
            answer = self.call(f"reading {object_type}", batch_api.read, object_type, body, archived=False)
            for record in answer.get("results", []):
                _merge(merged, record)
            bar.update(len(answer.get("results", [])))
        bar.close()
        return list(merged.values())

    def search_changed(self, object_type: str, prop: str, since_ms: int, until_ms: int) -> dict[str, int]:
        """Ids of the records whose ``prop`` is in ``[since_ms, until_ms)``, with their modification time.

        A window with more results than the search returns (:data:`SEARCH_CAP`) is split in two; an id seen
        twice (a record modified while the pages were read) keeps its latest time.
        """
        found: dict[str, int] = {}
        windows = [(since_ms, until_ms)]
        while windows:
            low, high = windows.pop(0)
            total, hits = self._search_window(object_type, prop, low, high)
            if total > self.search_cap:
                if high - low <= 1:
                    many = f"more than {self.search_cap} records modified in one millisecond"
                    raise HubSpotAPIError(f"searching {object_type}: {many}")
                middle = (low + high) // 2
                windows[:0] = [(low, middle), (middle, high)]
                continue
            for ident, modified in hits:
                found[ident] = max(modified, found.get(ident, modified))
        return found

    def _search_window(
        self, object_type: str, prop: str, low: int, high: int
    ) -> tuple[int, list[tuple[str, int]]]:
        """The total HubSpot counts for one window, and its hits (all pages, unless over the cap)."""
        search = self._api().crm.objects.search_api
        hits: list[tuple[str, int]] = []
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": prop, "operator": "GTE", "value": str(low)},
                            {"propertyName": prop, "operator": "LT", "value": str(high)},
                        ]
                    }
                ],
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": [prop],
                "limit": _PAGE,
            }
            if after is not None:
                body["after"] = after
            self._pace()
            page = self.call(f"searching {object_type}", search.do_search, object_type, body)
            total = int(page.get("total", 0))
            if total > self.search_cap:
                return total, []
            hits += [
                (str(r["id"]), _millis(r.get("properties", {}).get(prop))) for r in page.get("results", [])
            ]
            after = _next(page)
            if after is None:
                return total, hits

    def _pace(self) -> None:
        """Wait until ``search_interval`` has passed since the last search request."""
        wait = self._last_search + self.search_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_search = time.monotonic()

    def associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """Associations v4: each id of ``from_type`` -> the ids of ``to_type`` it is associated with."""
        batch_api = self._api().crm.associations.v4.batch_api
        out: dict[str, list[str]] = {}
        pending = [{"id": i} for i in ids]
        while pending:
            chunk, pending = pending[:_BATCH], pending[_BATCH:]
            what = f"reading {from_type} -> {to_type} associations"
            answer = self.call(what, batch_api.get_page, from_type, to_type, {"inputs": chunk})
            for result in answer.get("results", []):
                source = str(result["from"]["id"])
                out.setdefault(source, []).extend(str(t["toObjectId"]) for t in result.get("to", []))
                after = _next(result)
                if after is not None:
                    pending.append({"id": source, "after": after})
        return out

    def owners(self) -> list[dict[str, Any]]:
        """Every owner (active and archived: old records keep their archived owners)."""
        owners_api = self._api().crm.owners.owners_api
        out: list[dict[str, Any]] = []
        for archived in (False, True):
            after: str | None = None
            while True:
                options: dict[str, Any] = {"limit": _PAGE, "archived": archived}
                if after is not None:
                    options["after"] = after
                page = self.call("reading owners", owners_api.get_page, **options)
                out += page.get("results", [])
                after = _next(page)
                if after is None:
                    break
        return out

    def get(self, what: str, path: str, query: Sequence[tuple[str, Any]] = ()) -> Any:
        """A GET of an endpoint the client has no method for (form submissions, campaigns).

        It goes through the client's generated transport, so the host, token, retries and timeout are
        the same as every other request's.
        """
        client = self._api().marketing.forms.forms_api.api_client
        return self.call(
            what,
            client.call_api,
            path,
            "GET",
            query_params=list(query),
            header_params={"Accept": "application/json"},
            response_types_map={},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
        )

    def listing(
        self,
        what: str,
        path: str,
        query: Sequence[tuple[str, Any]] = (),
        *,
        limit: int = _PAGE,
        until: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Every result of a paged GET (``paging.next.after``), up to the first that ``until`` ends."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self.get(what, path, [*query, ("limit", limit), *([("after", after)] if after else [])])
            for result in page.get("results", []):
                if until is not None and until(result):
                    return out
                out.append(result)
            after = _next(page)
            if after is None:
                return out

    def submissions(self, form: str, since_ms: int | None, until_ms: int | None) -> list[dict[str, Any]]:
        """The submissions of ``form`` made in ``[since_ms, until_ms)`` (all without bounds).

        HubSpot lists them newest first, 50 a page, so the pages stop at the first one older than
        ``since_ms``.
        """
        path = f"/form-integrations/v1/submissions/forms/{form}"
        low = since_ms if since_ms is not None else -1

        def older(result: Mapping[str, Any]) -> bool:
            return int(result.get("submittedAt", 0)) < low

        found = self.listing(f"reading the submissions of form {form}", path, limit=50, until=older)
        high = until_ms if until_ms is not None else float("inf")
        return [r for r in found if int(r.get("submittedAt", 0)) < high]

    def pipelines(self, object_type: str) -> list[dict[str, Any]]:
        """The pipelines of ``object_type`` with their stages."""
        api = self._api().crm.pipelines.pipelines_api
        answer = self.call(f"reading the {object_type} pipelines", api.get_all, object_type)
        return list(answer.get("results", []))


def _next(page: Mapping[str, Any]) -> str | None:
    after = (page.get("paging") or {}).get("next", {}).get("after")
    return None if after in (None, "") else str(after)


def _merge(merged: dict[str, dict[str, Any]], record: Mapping[str, Any]) -> None:
    """Add ``record`` to ``merged`` by id: properties and histories of property batches joined."""
    ident = str(record["id"])
    into = merged.setdefault(ident, {**record, "properties": {}, "propertiesWithHistory": {}})
    into["properties"].update(record.get("properties") or {})
    into["propertiesWithHistory"].update(record.get("propertiesWithHistory") or {})


def _millis(value: object) -> int:
    """HubSpot's time (ISO text or epoch milliseconds) as epoch milliseconds."""
    text = str(value)
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
