"""``smarketing digest``: printed, written, mailed and posted; each channel reported, no secret shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.digest.conftest import PASSWORD, USER, Mailbox, Webhook

from smarketing.cli import main
from smarketing.digest import EMAIL_VARIABLES, SLACK_VARIABLE
from smarketing.testing.fixtures import example_dataset

PLAN = "examples/plan.yaml"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    example_dataset().write(folder)
    return folder


@pytest.fixture
def email_env(monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[int, Mailbox], ca_file: Path) -> Mailbox:
    port, box = smtp_server
    for key, value in {
        "host": "127.0.0.1",
        "port": str(port),
        "user": USER,
        "password": PASSWORD,
        "sender": USER,
        "to": "sales@example.com",
        "ca_file": str(ca_file),
    }.items():
        monkeypatch.setenv(EMAIL_VARIABLES[key], value)
    return box


def _secretless(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert "SECRET" not in text


def test_prints_the_digest(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert main(["digest", PLAN, "--data", str(data), "--period", "2026-10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Fernbrook Analytics FY2027: digest for 2026-10\n")
    assert "- D1 won 2026-10-20: 24,000.00 EUR; marketing touches credited: webinar 100%" in out


@pytest.mark.parametrize(
    ("name", "start"), [("d.html", "<!DOCTYPE html>"), ("d.json", "{"), ("d.txt", "Fern")]
)
def test_to_file_by_suffix(
    capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path, name: str, start: str
) -> None:
    target = tmp_path / name
    assert main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--to-file", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith(start)
    assert capsys.readouterr().out == f"delivered: file {target}\n"


def test_slack_format_is_the_block_kit_message(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--format", "slack"]) == 0
    message = json.loads(capsys.readouterr().out)
    assert message["blocks"][0]["type"] == "header"


def test_email_and_slack_both_delivered(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    email_env: Mailbox,
    webhook: tuple[str, Webhook],
) -> None:
    url, hook = webhook
    monkeypatch.setenv(SLACK_VARIABLE, url)
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--email", "--slack"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("delivered: e-mail to 1 recipient(s) through 127.0.0.1:")
    assert out.endswith("; Slack (127.0.0.1)\n")
    assert len(email_env.messages) == 1
    assert len(hook.posts) == 1
    _secretless(out, err)


def test_one_channel_fails_the_other_is_still_delivered_and_both_are_said(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    email_env: Mailbox,
    webhook: tuple[str, Webhook],
) -> None:
    url, hook = webhook
    hook.answers = [(500, {}, b"internal error")]
    monkeypatch.setenv(SLACK_VARIABLE, url)
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--email", "--slack"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("delivered: e-mail to 1 recipient(s)")
    assert "Slack" not in out
    assert (
        err == "smarketing digest: not delivered: slack: 127.0.0.1: the webhook answered HTTP 500: "
        "internal error\n"
    )
    assert len(email_env.messages) == 1
    _secretless(out, err)


def test_refused_login_exits_1_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path, email_env: Mailbox
) -> None:
    monkeypatch.setenv(EMAIL_VARIABLES["password"], "wrong-" + PASSWORD)
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--email"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "not delivered: email: 127.0.0.1:" in err
    assert "refused the login" in err
    _secretless(out, err)
    assert "wrong-" not in err


def test_missing_settings_send_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    webhook: tuple[str, Webhook],
) -> None:
    url, hook = webhook
    monkeypatch.setenv(SLACK_VARIABLE, url)
    for name in EMAIL_VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--slack", "--email"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("smarketing digest: email: set SMARKETING_SMTP_HOST, SMARKETING_DIGEST_FROM")
    assert hook.posts == []
    _secretless(out, err)


def test_connection_refused_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path, refused_port: int
) -> None:
    monkeypatch.setenv(SLACK_VARIABLE, f"http://127.0.0.1:{refused_port}/services/T0SECRET/B0SECRET/x")
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--slack"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == (
        "smarketing digest: not delivered: slack: 127.0.0.1: not posted after 3 attempt(s): "
        "connection refused\n"
    )
    _secretless(out, err)


def test_unwritable_file_exits_1(capsys: pytest.CaptureFixture[str], data: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "d.txt"
    code = main(["digest", PLAN, "--data", str(data), "--period", "2026-10", "--to-file", str(target)])
    assert code == 1
    assert "not delivered: file" in capsys.readouterr().err


def test_period_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", PLAN]) == 2
    assert "--period" in capsys.readouterr().err


@pytest.mark.parametrize("subject", ["", "Hi\r\nBcc: everyone@example.com"])
def test_subject_must_be_one_printable_line(capsys: pytest.CaptureFixture[str], subject: str) -> None:
    assert main(["digest", PLAN, "--period", "2026-10", "--subject", subject]) == 2
    assert "the subject must be one line of printable text" in capsys.readouterr().err
