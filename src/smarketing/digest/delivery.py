"""Delivering a digest: e-mail over SMTP with STARTTLS, and a Slack message to an incoming webhook.

The only I/O of the digest. Both channels are configured from the environment, by the names in
:data:`EMAIL_VARIABLES` and :data:`SLACK_VARIABLE`; the environment is passed in (``os.environ`` by the
command), never read behind the caller's back.

Secrets stay secret: the SMTP password and the webhook URL (whose path is its credential) never appear in a
``repr``, a log or an error. Errors are :class:`~smarketing.errors.DeliveryError` with the secret values
redacted from every message, and the library's own exception is not chained to them (its text could carry
the URL).

Retries only where nothing can have been delivered: Slack is retried when the connection was refused (the
request never left) and on HTTP 429 (Slack refused it, after ``Retry-After``); never after a timeout or a
5xx, which may have posted the message. SMTP is not retried.
"""

from __future__ import annotations

import ipaddress
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from smarketing.digest.result import Digest
from smarketing.errors import DeliveryError

__all__ = ["EMAIL_VARIABLES", "SLACK_VARIABLE", "SlackWebhook", "SmtpSettings", "post_to_slack", "send_email"]

#: The environment variables of e-mail delivery, by setting. ``host``, ``sender`` and ``to`` are required;
#: ``port`` defaults to 587; ``user`` and ``password`` go together; ``ca_file`` names a PEM bundle of the
#: certificate authorities to trust instead of the system's (a company CA, a test server).
EMAIL_VARIABLES: Mapping[str, str] = {
    "host": "SMARKETING_SMTP_HOST",
    "port": "SMARKETING_SMTP_PORT",
    "user": "SMARKETING_SMTP_USER",
    "password": "SMARKETING_SMTP_PASSWORD",
    "sender": "SMARKETING_DIGEST_FROM",
    "to": "SMARKETING_DIGEST_TO",
    "ca_file": "SMARKETING_SMTP_CA_FILE",
}

#: The environment variable holding the Slack incoming-webhook URL.
SLACK_VARIABLE = "SMARKETING_SLACK_WEBHOOK_URL"

#: Seconds a connection or an answer may take.
TIMEOUT = 30.0

#: The longest ``Retry-After`` honoured; a longer one is an error rather than a hung command.
_MAX_RETRY_AFTER = 60.0

_REDACTED = "[redacted]"


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            for form in {secret, urllib.parse.quote(secret, safe="")}:
                text = text.replace(form, _REDACTED)
    return text


@attrs.frozen(repr=False)
class SmtpSettings:
    """Where and as whom to send the digest by e-mail.

    Attributes:
        host: The SMTP server.
        sender: The ``From`` address.
        to: The recipients.
        port: The submission port (STARTTLS), default 587.
        user: The login, if the server wants one.
        password: The password (never shown).
        ca_file: A PEM file of certificate authorities to trust instead of the system's.
        timeout: Seconds a connection or an answer may take.

    Examples:
        >>> SmtpSettings(
        ...     host="smtp.example.com",
        ...     sender="a@example.com",
        ...     to=("b@example.com",),
        ...     user="a",
        ...     password="s3cret",
        ... )
        SmtpSettings(host='smtp.example.com', port=587, user='a', password=[redacted], to=1 recipient(s))
    """

    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    timeout: float = TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """The settings from the variables of :data:`EMAIL_VARIABLES`.

        Raises:
            DeliveryError: A required variable is missing or empty, the port is not a number, ``user`` is
                set without ``password`` (or the other way round), or ``to`` holds no address. The message
                names the variables, never their values.
        """
        value = {key: environ.get(name, "").strip() for key, name in EMAIL_VARIABLES.items()}
        missing = [EMAIL_VARIABLES[k] for k in ("host", "sender", "to") if not value[k]]
        if missing:
            raise DeliveryError(f"set {', '.join(missing)} to send the digest by e-mail", channel="email")
        if bool(value["user"]) != bool(value["password"]):
            raise DeliveryError(
                f"set both {EMAIL_VARIABLES['user']} and {EMAIL_VARIABLES['password']}, or neither",
                channel="email",
            )
        port = value["port"] or "587"
        if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise DeliveryError(f"{EMAIL_VARIABLES['port']} must be a port number (1-65535)", channel="email")
        to = tuple(a.strip() for a in value["to"].split(",") if a.strip())
        if not to:
            raise DeliveryError(f"{EMAIL_VARIABLES['to']} holds no address", channel="email")
        for key in ("sender", "to"):  # a line break in a header would let a value add headers of its own
            if not value[key].isprintable():
                raise DeliveryError(
                    f"{EMAIL_VARIABLES[key]} must not contain control characters", channel="email"
                )
        return cls(
            host=value["host"],
            sender=value["sender"],
            to=to,
            port=int(port),
            user=value["user"] or None,
            password=value["password"] or None,
            ca_file=Path(value["ca_file"]) if value["ca_file"] else None,
        )

    def __repr__(self) -> str:
        password = "None" if self.password is None else _REDACTED
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.user!r}, password={password}, "
            f"to={len(self.to)} recipient(s))"
        )

    @property
    def where(self) -> str:
        """``host:port``: how messages name the server."""
        return f"{self.host}:{self.port}"


@attrs.frozen(repr=False)
class SlackWebhook:
    """A Slack incoming webhook. Its URL is its credential: only the host is ever shown.

    The URL must be ``https``; plain ``http`` is accepted only for a loopback host (a local test server).

    Examples:
        >>> SlackWebhook("https://hooks.slack.com/services/T000/B000/XXXX")
        SlackWebhook(host='hooks.slack.com')
        >>> SlackWebhook("http://hooks.slack.com/services/T000/B000/XXXX")
        Traceback (most recent call last):
        ...
        smarketing.errors.DeliveryError: slack: the webhook URL must be https (http only for a loopback host)
    """

    url: str = attrs.field()
    timeout: float = TIMEOUT

    @url.validator
    def _check(self, _: object, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DeliveryError("the webhook URL must be an https URL", channel="slack")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise DeliveryError(
                "the webhook URL must be https (http only for a loopback host)", channel="slack"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SlackWebhook:
        """The webhook of :data:`SLACK_VARIABLE`.

        Raises:
            DeliveryError: The variable is missing or empty, or not an https URL.
        """
        url = environ.get(SLACK_VARIABLE, "").strip()
        if not url:
            raise DeliveryError(f"set {SLACK_VARIABLE} to post the digest to Slack", channel="slack")
        return cls(url)

    @property
    def host(self) -> str:
        """The webhook's host: all of the URL a message may show."""
        return urllib.parse.urlsplit(self.url).hostname or ""

    def __repr__(self) -> str:
        return f"SlackWebhook(host={self.host!r})"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send_email(digest: Digest, settings: SmtpSettings, *, subject: str | None = None) -> None:
    """Send the digest as a ``multipart/alternative`` e-mail (text and HTML) over SMTP with STARTTLS.

    The connection is upgraded with STARTTLS before anything else is said, the server's certificate checked
    against the system's authorities (or ``settings.ca_file``); a server that does not offer STARTTLS is
    refused rather than sent to in the clear.

    Raises:
        DeliveryError: The server cannot be reached, does not offer STARTTLS, fails the TLS handshake or
            certificate check, refuses the login, the sender or any recipient (a message some recipients got
            and others did not is an error naming both).
    """
    message = digest.to_email(sender=settings.sender, to=settings.to, subject=subject)
    secrets = [settings.password]

    def fail(what: str, error: BaseException | str) -> DeliveryError:
        return DeliveryError(_redact(f"{what}: {error}", secrets), channel="email")

    try:
        context = ssl.create_default_context(
            cafile=None if settings.ca_file is None else str(settings.ca_file)
        )
    except OSError as error:
        raise fail(f"cannot read {EMAIL_VARIABLES['ca_file']}", error.strerror or error) from None
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise fail(settings.where, "the server does not offer STARTTLS; nothing was sent")
            smtp.starttls(context=context)
            smtp.ehlo()
            if settings.user is not None and settings.password is not None:
                smtp.login(settings.user, settings.password)
            refused = smtp.send_message(message)
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise fail(
            settings.where, f"the server refused the login of {settings.user!r}: {_reply(error)}"
        ) from None
    except smtplib.SMTPRecipientsRefused as error:
        raise fail(settings.where, f"every recipient was refused: {_refusals(error.recipients)}") from None
    except smtplib.SMTPSenderRefused as error:
        raise fail(settings.where, f"the sender {settings.sender!r} was refused: {_reply(error)}") from None
    except smtplib.SMTPResponseException as error:
        raise fail(settings.where, f"the server answered {_reply(error)}") from None
    except ssl.SSLError as error:
        raise fail(settings.where, f"TLS failed: {error.reason or error}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise fail(f"cannot deliver through {settings.where}", _os_text(error)) from None
    if refused:
        got = [a for a in settings.to if a not in refused]
        raise fail(
            settings.where,
            f"delivered to {', '.join(got)} only; refused: {_refusals(refused)}",
        )


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = (
        error.smtp_error.decode("utf-8", "replace")
        if isinstance(error.smtp_error, bytes)
        else error.smtp_error
    )
    return f"{error.smtp_code} {text}".strip()


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {reply.decode('utf-8', 'replace')})"
        for address, (code, reply) in sorted(refused.items())
    )


def _os_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def post_to_slack(
    digest: Digest,
    webhook: SlackWebhook,
    *,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Post the digest as a Block Kit message to a Slack incoming webhook.

    Retried (up to ``attempts`` in all) only when the message cannot have been posted: the connection was
    refused, or Slack answered 429 (waiting ``Retry-After`` seconds, at most 60, through ``sleep``).

    Raises:
        DeliveryError: The webhook cannot be reached, or answers anything but 2xx (its status and the start
            of its answer are in the message; the URL never is).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    body = json.dumps(digest.to_slack(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked: https, or http on loopback
        webhook.url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}, method="POST"
    )
    handlers: list[Any] = [_NoRedirect()]
    if _loopback(webhook.host):  # a local server is never reached through a proxy
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    why = ""
    for attempt in range(1, attempts + 1):
        retry = _post(opener, request, webhook)
        if retry is None:
            return
        wait, why = retry
        if attempt < attempts:
            sleep(wait)
    raise DeliveryError(f"{webhook.host}: not posted after {attempts} attempt(s): {why}", channel="slack")


def _post(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, webhook: SlackWebhook
) -> tuple[float, str] | None:
    """One attempt: ``None`` when posted, else the seconds to wait and why (only when safe to retry)."""
    secrets = [webhook.url, urllib.parse.urlsplit(webhook.url).path]
    try:
        with opener.open(request, timeout=webhook.timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as error:
        answer = _redact(error.read(500).decode("utf-8", "replace").strip(), secrets)
        if error.code == 429:
            wait = _retry_after(error.headers.get("Retry-After"))
            if wait is not None:
                return wait, f"HTTP 429 {answer}".strip()
        raise DeliveryError(
            f"{webhook.host}: the webhook answered HTTP {error.code}" + (f": {answer}" if answer else ""),
            channel="slack",
        ) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):  # the request never left: safe to retry
            return 0.5, "connection refused"
        reason = error.reason if isinstance(error.reason, str) else _os_text(error.reason)
        raise DeliveryError(
            _redact(f"{webhook.host}: cannot reach the webhook: {reason}", secrets), channel="slack"
        ) from None
    except OSError as error:  # a timeout or a reset after sending: it may have been posted, so no retry
        raise DeliveryError(
            _redact(
                f"{webhook.host}: no answer ({_os_text(error)}); the message may have been posted", secrets
            ),
            channel="slack",
        ) from None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (1 when absent); ``None`` when too long to wait for."""
    if value is None or not value.strip().isdigit():
        return 1.0
    seconds = float(value.strip())
    return seconds if seconds <= _MAX_RETRY_AFTER else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is an error: the message is never re-sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
