"""Loopback fakes for digest delivery: an SMTP server with STARTTLS and a Slack incoming webhook.

Nothing here reaches beyond 127.0.0.1. The SMTP server is aiosmtpd with a certificate from a throwaway CA
(trustme), so the client's certificate check runs for real; the webhook is ``http.server`` in a thread,
answering with the statuses a test queues.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from smarketing.digest import Digest, digest
from smarketing.plan import AlignmentPlan
from smarketing.testing.fixtures import example_dataset

USER = "revops@example.com"
#: Characters a redaction has to survive: quoting, base64 and URL encoding all change some of them.
PASSWORD = "s3cr3t/p+ss=word"


@pytest.fixture(scope="session")
def example_digest(example_plan: AlignmentPlan) -> Digest:
    return digest(example_plan, example_dataset(), period="2026-10")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """What the fake SMTP server received, and which recipients it refuses."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.logins: list[str] = []
        self.tls_seen: list[bool] = []

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.tls_seen.append(session.ssl is not None)
        self.messages.append(envelope)
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_server(ca: trustme.CA) -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS before mail and login."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    box = Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=box.authenticate,
        auth_require_tls=True,
        server_hostname="127.0.0.1",
    )
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture
def plain_smtp_server() -> Iterator[tuple[int, Mailbox]]:
    """An SMTP server that offers no STARTTLS: the client must refuse to send to it."""
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


class Webhook:
    """A fake Slack incoming webhook: records each POST and answers with the next queued status."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.answers: list[tuple[int, dict[str, str], bytes]] = []

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        return self.answers.pop(0) if self.answers else (200, {}, b"ok")


@pytest.fixture
def webhook() -> Iterator[tuple[str, Webhook]]:
    """A webhook on 127.0.0.1; its URL carries a secret path, like Slack's."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.paths.append(self.path)
            hook.posts.append(json.loads(self.rfile.read(length)))
            status, headers, body = hook.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield f"http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/xoxSECRETtoken", hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def refused_port() -> int:
    """A loopback port nothing listens on."""
    return _free_port()
