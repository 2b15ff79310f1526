"""The digest: what both teams should see this period, delivered where they already talk.

:func:`digest` reads a period out of the analyses both teams share (KPI alerts, SLA breaches on both sides,
conformance by team, wins and the marketing touches credited for them, rejected leads by reason) and returns
a :class:`Digest` with text, HTML, Slack (Block Kit) and e-mail forms. Delivering it is I/O and lives apart,
in :mod:`smarketing.digest.delivery`: :func:`send_email` (SMTP with STARTTLS) and :func:`post_to_slack`
(an incoming webhook), configured from the environment.
"""

from smarketing.digest.build import digest
from smarketing.digest.delivery import (
    EMAIL_VARIABLES,
    SLACK_VARIABLE,
    SlackWebhook,
    SmtpSettings,
    post_to_slack,
    send_email,
)
from smarketing.digest.result import Breach, Credit, Digest, Rejection, Win

__all__ = [
    "Breach",
    "Credit",
    "Digest",
    "EMAIL_VARIABLES",
    "Rejection",
    "SLACK_VARIABLE",
    "SlackWebhook",
    "SmtpSettings",
    "Win",
    "digest",
    "post_to_slack",
    "send_email",
]
