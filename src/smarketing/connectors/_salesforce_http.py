"""The Salesforce API as the ``salesforce`` connector reads it: SOQL, pages, Bulk 2.0, limits, secrets.

Every call goes through ``simple-salesforce`` (the ``[salesforce]`` extra) on a ``requests`` session whose
adapter retries 429 and 5xx answers with urllib3's ``Retry`` (``Retry-After`` respected, exponential
backoff without it), with a timeout on every request. Query answers are read with decimals kept as the
text Salesforce wrote (``parse_float``), never as floats.

What a well-behaved reader does, and where:

- **SOQL**: object and field names come from the connector's own lists, checked against the org's
  describe; literals are ids checked to be Salesforce ids and quoted (:func:`quote`), or times written
  by :func:`soql_time`. No text a user gives is put into a query.
- **pages**: REST ``query`` / ``queryAll`` answers are followed through ``nextRecordsUrl``
  (:meth:`SalesforceHTTP.query`); a large object is read with a Bulk API 2.0 query job instead (results
  in CSV pages chained by ``Sforce-Locator``, :meth:`SalesforceHTTP.bulk`).
- **limits**: a 429 or 503 left after the retries, and ``REQUEST_LIMIT_EXCEEDED`` (the org's daily API
  budget is spent: HTTP 403), are errors that say so.
- **secrets**: the access token (or user name, password and security token) is read from the
  environment or a keyring when the first request is made, and redacted from every message this module
  makes.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
from tqdm import tqdm

from smarketing.connectors._salesforce import case_safe_text
from smarketing.errors import SmarketingError

__all__ = ["SECRETS", "SalesforceAPIError", "SalesforceHTTP", "ids", "name", "quote", "soql_time"]

_RETRY_STATUSES: Final = (429, 500, 502, 503, 504)
_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The secrets' variables and keyring users, by what they hold.
SECRETS: Final = ("access_token", "username", "password", "security_token")


class SalesforceAPIError(SmarketingError, OSError):
    """Salesforce refused a request or could not be reached; the message never holds a secret.

    Attributes:
        status: The HTTP status of the last answer, ``None`` when there was none.
        code: Salesforce's ``errorCode`` (``REQUEST_LIMIT_EXCEEDED``, ``INVALID_SESSION_ID``, ...), if any.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(f"salesforce: {message}")
        self.status = status
        self.code = code


def quote(value: str) -> str:
    """A Salesforce id as a SOQL string literal; anything else is refused, never put into a query.

    Examples:
        >>> quote("00Q5g00000AbCdE")
        "'00Q5g00000AbCdEEAV'"
        >>> quote("x' OR Name != '")
        Traceback (most recent call last):
        ...
        ValueError: "x' OR Name != '" is not a Salesforce id
    """
    ident = case_safe_text(value) if isinstance(value, str) else None
    if ident is None:
        raise ValueError(f"{value!r} is not a Salesforce id")
    return f"'{ident}'"


def soql_time(when: datetime) -> str:
    """A timezone-aware time as a SOQL dateTime literal (whole seconds, UTC; SOQL has none finer).

    Examples:
        >>> soql_time(datetime(2026, 10, 1, 9, 30, tzinfo=UTC))
        '2026-10-01T09:30:00Z'
    """
    if when.tzinfo is None:
        raise ValueError("give a timezone-aware datetime (such as datetime(2026, 10, 1, tzinfo=UTC))")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def name(value: str) -> str:
    """An object or field name for a query: letters, digits and underscores only."""
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a Salesforce object or field name")
    return value


def _secret(env: str, keyring_service: str | None, user: str) -> str | None:
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if keyring_service is not None:
        try:
            import keyring  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415  # optional
        except ImportError:
            return None
        found = keyring.get_password(keyring_service, user)
        if found:
            return str(found)
    return None


class SalesforceHTTP:
    """The requests of one connector, made through ``simple-salesforce``.

    Args:
        instance_url: The org's address (``https://yourorg.my.salesforce.com``); ``None``: from the
            environment variable ``env["instance_url"]``, or from the login.
        env: The environment variables of the secrets (keys ``access_token``, ``username``, ``password``,
            ``security_token``, ``instance_url``).
        keyring_service: The keyring service holding the secrets (users as the keys of ``env``) when the
            variables are not set (``None``: no keyring).
        domain: The login domain of a user name login (``login``, ``test`` for a sandbox).
        version: The API version (``61.0``).
        timeout: Seconds before a request is given up (connect and read).
        retries: How many times a 429 or 5xx answer is retried.
        backoff: The backoff factor between retries without ``Retry-After`` (seconds, doubled each time).
        verify: TLS verification (``True``) or the path of a CA bundle (a test server's).
        bulk_poll: Seconds between two looks at a Bulk 2.0 job's state.
    """

    def __init__(
        self,
        *,
        instance_url: str | None,
        env: Mapping[str, str],
        keyring_service: str | None,
        domain: str,
        version: str,
        timeout: float,
        retries: int,
        backoff: float,
        verify: bool | str,
        bulk_poll: float,
    ) -> None:
        self.instance_url = instance_url
        self.env = dict(env)
        self.keyring_service = keyring_service
        self.domain = domain
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.verify = verify
        self.bulk_poll = bulk_poll
        self.progress = False  # a progress bar per object on standard error, set per load
        self.requests = 0
        self._client: Any = None
        self._secrets: list[str] = []

    def __repr__(self) -> str:  # never a secret
        return f"SalesforceHTTP(instance_url={self.instance_url!r})"

    # -- the client ----------------------------------------------------------------------------------

    def _api(self) -> Any:
        if self._client is None:
            try:
                import requests  # noqa: PLC0415
                import simple_salesforce  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415
                from urllib3.util.retry import Retry  # noqa: PLC0415
            except ImportError:
                raise SalesforceAPIError(
                    "the salesforce connector needs simple-salesforce: pip install 'smarketing[salesforce]'"
                ) from None
            session = requests.Session()
            retry = Retry(
                total=self.retries,
                backoff_factor=self.backoff,
                status_forcelist=_RETRY_STATUSES,
                allowed_methods=None,  # a Bulk 2.0 query job is created by a POST
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            adapter = _adapter(self.timeout, retry, self.verify)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.verify = self.verify
            session.hooks["response"].append(self._count)
            self._client = self._login(simple_salesforce, session)
        return self._client

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> None:
        self.requests += 1

    def _login(self, simple_salesforce: Any, session: Any) -> Any:
        """The client, logged in with an access token, else a user name and password; an error naming both."""
        found = {k: _secret(self.env[k], self.keyring_service, k) for k in SECRETS}
        self._secrets = sorted((v for v in found.values() if v), key=len, reverse=True)
        instance = self.instance_url or _secret(self.env["instance_url"], None, "instance_url")
        common = {"session": session, "version": self.version, "parse_float": str}
        try:
            if found["access_token"]:
                if not instance:
                    raise SalesforceAPIError(
                        f"an access token needs the org's address: set {self.env['instance_url']} or "
                        "pass instance_url="
                    )
                return simple_salesforce.Salesforce(
                    instance_url=instance, session_id=found["access_token"], **common
                )
            if found["username"] and found["password"]:
                return simple_salesforce.Salesforce(
                    username=found["username"],
                    password=found["password"],
                    security_token=found["security_token"] or "",
                    domain=self.domain,
                    **common,
                )
        except SalesforceAPIError:
            raise
        except Exception as exc:  # the login's own errors: with every secret redacted
            raise self._error("logging in", exc) from None
        where = ", ".join(self.env[k] for k in ("access_token", "username", "password"))
        keyring = (
            f" or the keyring (service {self.keyring_service!r}, users access_token, username, password)"
            if self.keyring_service is not None
            else ""
        )
        raise SalesforceAPIError(
            f"no credentials: set {where} (and {self.env['security_token']}){keyring}; see the how-to"
        )

    def redact(self, text: str) -> str:
        """``text`` with every secret of this connector replaced by ``[redacted]``."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _error(self, what: str, exc: Exception) -> SalesforceAPIError:
        status = getattr(exc, "status", None)
        content = getattr(exc, "content", None)
        if status is None:
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None)
        code = _error_code(content)
        body = self.redact(str(content if content is not None else exc))[:300]
        if code == "REQUEST_LIMIT_EXCEEDED":
            why = (
                "the org's API request budget for the last 24 hours is spent (REQUEST_LIMIT_EXCEEDED); "
                "the load can go on once requests of the rolling 24 hours free some (Setup > Company "
                "Information shows the API requests left), or with a larger budget"
            )
            return SalesforceAPIError(f"{what}: {why}", status=status, code=code)
        if status in (429, 503):
            why = (
                f"still refused (HTTP {status}) after {self.retries} retries; try again later or raise "
                "retries/backoff"
            )
            return SalesforceAPIError(f"{what}: {why}", status=status, code=code)
        if status == 401:
            why = "the session was refused: the access token expired or is wrong (see the how-to)"
            return SalesforceAPIError(f"{what}: HTTP 401: {why}: {body[:200]}", status=status, code=code)
        if status is not None:
            return SalesforceAPIError(f"{what}: HTTP {status}: {body}", status=status, code=code)
        if "Timeout" in type(exc).__name__ or "timed out" in str(exc):
            why = f"no answer within {self.timeout:g} s ({type(exc).__name__}); raise timeout= or try later"
            return SalesforceAPIError(f"{what}: {why}", code=code)
        text = self.redact(f"{type(exc).__name__}: {exc}")[:300]
        return SalesforceAPIError(f"{what}: {text}", code=code)

    def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SalesforceAPIError:
            raise
        except Exception as exc:  # simple-salesforce's errors, requests' and urllib3's: one error
            raise self._error(what, exc) from None

    # -- reading -------------------------------------------------------------------------------------

    def show(self, progress: bool | None) -> None:
        """Show progress bars in the next requests: ``None`` only when standard error is a terminal."""
        self.progress = sys.stderr.isatty() if progress is None else progress

    def bar(self, what: str, total: int | None = None) -> tqdm[Any]:
        """A progress bar of records read (off unless :meth:`show` turned it on)."""
        return tqdm(
            desc=f"salesforce: {what}", total=total, unit=" records", disable=not self.progress, leave=False
        )

    def objects(self) -> set[str]:
        """The names of the org's objects that can be queried (the global describe)."""
        sf = self._call("logging in", self._api)
        answer = self._call("listing the org's objects", sf.describe)
        return {str(o["name"]) for o in answer.get("sobjects", []) if o.get("queryable", True)}

    def describe(self, obj: str) -> dict[str, str]:
        """The fields of ``obj``: name -> type (``id``, ``datetime``, ``currency``, ...)."""
        sf = self._api()
        answer = self._call(f"describing {obj}", getattr(sf, name(obj)).describe)
        return {str(f["name"]): str(f.get("type", "string")) for f in answer.get("fields", [])}

    def count(self, soql: str, *, deleted: bool) -> int:
        """The number of records a ``SELECT COUNT() FROM ...`` query counts."""
        sf = self._api()
        answer = self._call("counting records", sf.query, soql, include_deleted=deleted)
        return int(answer.get("totalSize", 0))

    def query(self, what: str, soql: str, *, deleted: bool) -> Iterator[list[dict[str, Any]]]:
        """The records of a SOQL query, page by page (``nextRecordsUrl`` followed to the end)."""
        sf = self._api()
        page = self._call(what, sf.query, soql, include_deleted=deleted)
        while True:
            yield [dict(r) for r in page.get("records", [])]
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return
            page = self._call(what, sf.query_more, following, identifier_is_url=True)

    def bulk(self, what: str, obj: str, soql: str, *, deleted: bool, page: int) -> Iterator[pl.DataFrame]:
        """The records of a SOQL query run as a Bulk API 2.0 job, one CSV page (as text columns) at a time."""
        handler = getattr(self._call("logging in", self._api).bulk2, name(obj))
        run = handler.query_all if deleted else handler.query
        pages = self._call(what, run, soql, max_records=page, wait=self.bulk_poll)
        while True:
            text = self._call(what, next, pages, None)
            if text is None:
                return
            if str(text).strip():
                yield pl.read_csv(io.StringIO(str(text)), infer_schema=False)


def _adapter(timeout: float, retry: Any, verify: bool | str) -> Any:
    """A ``requests`` adapter that retries with ``retry`` and gives every request a timeout.

    A ``verify`` other than ``True`` (a CA bundle's path) wins over ``REQUESTS_CA_BUNDLE``, which
    ``requests`` would otherwise prefer to the session's own setting.
    """
    from requests.adapters import HTTPAdapter  # noqa: PLC0415

    class Adapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **options: Any) -> Any:
            options["timeout"] = options.get("timeout") or timeout
            if verify is not True:
                options["verify"] = verify
            return super().send(request, *args, **options)

    return Adapter(max_retries=retry)


def _error_code(content: object) -> str | None:
    """Salesforce's ``errorCode`` in an error answer (a list of errors, or one), if any."""
    if isinstance(content, bytes | str):
        try:
            content = json.loads(content)
        except ValueError:
            return None
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode") or "") or None
    if isinstance(content, Mapping):
        return str(content.get("errorCode") or "") or None
    return None


def ids(values: Sequence[str | None]) -> set[str]:
    """The 18-character form of every Salesforce id in ``values`` (others left out)."""
    out = set()
    for value in values:
        if value:
            turned = case_safe_text(value)
            if turned is not None:
                out.add(turned)
    return out
