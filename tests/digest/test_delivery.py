"""Delivering a digest: SMTP with STARTTLS and a Slack webhook, against loopback fakes; secrets redacted."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from tests.digest.conftest import PASSWORD, USER, Mailbox, Webhook

from smarketing.digest import (
    EMAIL_VARIABLES,
    SLACK_VARIABLE,
    Digest,
    SlackWebhook,
    SmtpSettings,
    post_to_slack,
    send_email,
)
from smarketing.errors import DeliveryError, SmarketingError


def _settings(port: int, ca_file: Path | None, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": USER,
        "to": ("sales@example.com", "marketing@example.com"),
        "user": USER,
        "password": PASSWORD,
        "ca_file": ca_file,
        "timeout": 10.0,
    }
    return SmtpSettings(**{**values, **changes})


def _no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert "SECRET" not in text


# ---------------------------------------------------------------------------------------------- e-mail


def test_email_is_sent_over_starttls_with_a_text_and_an_html_part(
    example_digest: Digest, smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = smtp_server
    send_email(example_digest, _settings(port, ca_file))
    assert box.logins == [USER]
    assert box.tls_seen == [True]
    [envelope] = box.messages
    assert envelope.mail_from == USER
    assert envelope.rcpt_tos == ["sales@example.com", "marketing@example.com"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "Fernbrook Analytics FY2027: digest for 2026-10"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()  # type: ignore[misc]
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    # SMTP carries CRLF line ends; the parts are the digest's text and HTML.
    assert text.get_content().replace("\r\n", "\n") == example_digest.text
    assert html.get_content().replace("\r\n", "\n") == example_digest.html
    assert "D1 won 2026-10-20" in text.get_content()


def test_email_subject_can_be_given(
    example_digest: Digest, smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = smtp_server
    send_email(example_digest, _settings(port, ca_file), subject="Weekly sync: numbers")
    message = email.message_from_bytes(box.messages[0].content, policy=email.policy.default)  # type: ignore[arg-type]
    assert message["Subject"] == "Weekly sync: numbers"


def test_refused_login_is_a_clear_error_without_the_password(
    example_digest: Digest, smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = smtp_server
    with pytest.raises(DeliveryError) as caught:
        send_email(example_digest, _settings(port, ca_file, password=PASSWORD + "x"))
    text = str(caught.value)
    assert text.startswith(f"email: 127.0.0.1:{port}: the server refused the login of '{USER}': 535")
    assert PASSWORD not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert caught.value.channel == "email"
    assert box.messages == []


def test_an_untrusted_certificate_is_refused(
    example_digest: Digest, smtp_server: tuple[int, Mailbox]
) -> None:
    port, box = smtp_server
    with pytest.raises(DeliveryError, match="TLS failed: CERTIFICATE_VERIFY_FAILED"):
        send_email(example_digest, _settings(port, None))
    assert box.messages == []


def test_a_server_without_starttls_is_never_sent_to(
    example_digest: Digest, plain_smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = plain_smtp_server
    with pytest.raises(DeliveryError, match="does not offer STARTTLS; nothing was sent"):
        send_email(example_digest, _settings(port, ca_file))
    assert box.messages == []


def test_connection_refused(example_digest: Digest, refused_port: int, ca_file: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        send_email(example_digest, _settings(refused_port, ca_file))
    assert str(caught.value) == f"email: cannot deliver through 127.0.0.1:{refused_port}: Connection refused"


def test_some_recipients_refused_is_an_error_naming_both(
    example_digest: Digest, smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = smtp_server
    to = ("sales@example.com", "nobody@refused.example")
    with pytest.raises(DeliveryError) as caught:
        send_email(example_digest, _settings(port, ca_file, to=to))
    assert "delivered to sales@example.com only; refused: nobody@refused.example (550" in str(caught.value)
    assert [m.rcpt_tos for m in box.messages] == [["sales@example.com"]]


def test_every_recipient_refused(
    example_digest: Digest, smtp_server: tuple[int, Mailbox], ca_file: Path
) -> None:
    port, box = smtp_server
    with pytest.raises(DeliveryError, match=r"every recipient was refused: a@refused\.example"):
        send_email(example_digest, _settings(port, ca_file, to=("a@refused.example",)))
    assert box.messages == []


def test_settings_from_the_environment(tmp_path: Path) -> None:
    env = {
        EMAIL_VARIABLES["host"]: "smtp.example.com",
        EMAIL_VARIABLES["sender"]: USER,
        EMAIL_VARIABLES["to"]: "a@example.com, b@example.com,",
        EMAIL_VARIABLES["user"]: USER,
        EMAIL_VARIABLES["password"]: PASSWORD,
        EMAIL_VARIABLES["ca_file"]: str(tmp_path / "ca.pem"),
    }
    settings = SmtpSettings.from_env(env)
    assert (settings.host, settings.port, settings.to) == (
        "smtp.example.com",
        587,
        ("a@example.com", "b@example.com"),
    )
    assert settings.password == PASSWORD
    assert settings.ca_file == tmp_path / "ca.pem"
    _no_secret(repr(settings))
    assert "password=[redacted]" in repr(settings)


@pytest.mark.parametrize(
    ("drop", "change", "message"),
    [
        ("host", {}, "set SMARKETING_SMTP_HOST to send the digest by e-mail"),
        ("password", {}, "set both SMARKETING_SMTP_USER and SMARKETING_SMTP_PASSWORD, or neither"),
        (None, {"port": "smtp"}, "SMARKETING_SMTP_PORT must be a port number (1-65535)"),
        (None, {"port": "70000"}, "SMARKETING_SMTP_PORT must be a port number (1-65535)"),
        (None, {"to": " , "}, "SMARKETING_DIGEST_TO holds no address"),
        (
            None,
            {"to": "a@example.com\nBcc: x@example.com"},
            "SMARKETING_DIGEST_TO must not contain control characters",
        ),
    ],
)
def test_missing_or_bad_settings_name_the_variable_never_a_value(
    drop: str | None, change: dict[str, str], message: str
) -> None:
    env = {
        EMAIL_VARIABLES["host"]: "smtp.example.com",
        EMAIL_VARIABLES["sender"]: USER,
        EMAIL_VARIABLES["to"]: "a@example.com",
        EMAIL_VARIABLES["user"]: USER,
        EMAIL_VARIABLES["password"]: PASSWORD,
    }
    env.update({EMAIL_VARIABLES[k]: v for k, v in change.items()})
    if drop is not None:
        del env[EMAIL_VARIABLES[drop]]
    with pytest.raises(DeliveryError) as caught:
        SmtpSettings.from_env(env)
    assert str(caught.value) == f"email: {message}"
    _no_secret(str(caught.value))


# ----------------------------------------------------------------------------------------------- Slack


def test_slack_gets_block_kit_json(example_digest: Digest, webhook: tuple[str, Webhook]) -> None:
    url, hook = webhook
    post_to_slack(example_digest, SlackWebhook(url))
    [posted] = hook.posts
    assert hook.paths == ["/services/T0SECRET/B0SECRET/xoxSECRETtoken"]
    assert posted == example_digest.to_slack()
    assert posted["text"] == "Fernbrook Analytics FY2027: digest for 2026-10"
    blocks = posted["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": posted["text"]}}
    assert blocks[1]["type"] == "context"
    sections = [b for b in blocks if b["type"] == "section"]
    assert [s["text"]["text"].split("\n")[0] for s in sections] == [
        "*KPI alerts*",
        "*SLA breaches*",
        "*Journey conformance by team*",
        "*Wins and the marketing touches credited*",
        "*Rejected leads by reason*",
    ]
    assert all(s["text"]["type"] == "mrkdwn" and len(s["text"]["text"]) <= 3000 for s in sections)
    assert len(blocks) <= 50


def test_slack_500_is_an_error_and_not_retried(example_digest: Digest, webhook: tuple[str, Webhook]) -> None:
    url, hook = webhook
    hook.answers = [(500, {}, b"rollup_error at " + url.encode())]
    with pytest.raises(DeliveryError) as caught:
        post_to_slack(example_digest, SlackWebhook(url), sleep=lambda _: None)
    text = str(caught.value)
    assert text.startswith("slack: 127.0.0.1: the webhook answered HTTP 500: rollup_error at [redacted]")
    _no_secret(text)
    assert caught.value.__cause__ is None
    assert len(hook.posts) == 1


def test_slack_429_is_retried_after_retry_after(example_digest: Digest, webhook: tuple[str, Webhook]) -> None:
    url, hook = webhook
    hook.answers = [(429, {"Retry-After": "7"}, b"rate_limited")]
    waits: list[float] = []
    post_to_slack(example_digest, SlackWebhook(url), sleep=waits.append)
    assert waits == [7.0]
    assert len(hook.posts) == 2


def test_slack_429_every_time_gives_up(example_digest: Digest, webhook: tuple[str, Webhook]) -> None:
    url, hook = webhook
    hook.answers = [(429, {}, b"rate_limited")] * 3
    with pytest.raises(DeliveryError, match=r"not posted after 3 attempt\(s\): HTTP 429 rate_limited"):
        post_to_slack(example_digest, SlackWebhook(url), sleep=lambda _: None)
    assert len(hook.posts) == 3


def test_slack_connection_refused_is_retried_then_reported(example_digest: Digest, refused_port: int) -> None:
    url = f"http://127.0.0.1:{refused_port}/services/T0SECRET/B0SECRET/xoxSECRETtoken"
    waits: list[float] = []
    with pytest.raises(DeliveryError) as caught:
        post_to_slack(example_digest, SlackWebhook(url), attempts=2, sleep=waits.append)
    assert str(caught.value) == "slack: 127.0.0.1: not posted after 2 attempt(s): connection refused"
    assert len(waits) == 1


def test_slack_redirect_is_not_followed(example_digest: Digest, webhook: tuple[str, Webhook]) -> None:
    url, hook = webhook
    hook.answers = [(302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")]
    with pytest.raises(DeliveryError, match="answered HTTP 302"):
        post_to_slack(example_digest, SlackWebhook(url))
    assert len(hook.posts) == 1


def test_webhook_url_is_never_shown() -> None:
    hook = SlackWebhook.from_env({SLACK_VARIABLE: "https://hooks.slack.com/services/T0SECRET/B0SECRET/x"})
    assert repr(hook) == "SlackWebhook(host='hooks.slack.com')"
    assert hook.host == "hooks.slack.com"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", f"slack: set {SLACK_VARIABLE} to post the digest to Slack"),
        ("http://hooks.example.com/services/T0SECRET", "slack: the webhook URL must be https (http only for"),
        ("ftp://hooks.example.com/T0SECRET", "slack: the webhook URL must be an https URL"),
    ],
)
def test_bad_webhook_urls_are_refused_without_echoing_them(url: str, message: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        SlackWebhook.from_env({SLACK_VARIABLE: url})
    assert str(caught.value).startswith(message)
    _no_secret(str(caught.value))


def test_delivery_error_is_ours_and_an_os_error() -> None:
    error = DeliveryError("x", channel="slack")
    assert isinstance(error, SmarketingError)
    assert isinstance(error, OSError)
    assert str(error) == "slack: x"
