"""The built-in rules, in documentation order, and the engine's own diagnostic codes (private)."""

from __future__ import annotations

from typing import Final

import attrs

from smarketing.rules import (
    _campaigns,
    _collaboration,
    _customer_feedback,
    _data,
    _dispositions,
    _journey,
    _kpis,
    _language,
    _persona_data,
    _personas,
    _rewards,
    _sla,
    _waterfall,
)
from smarketing.rules._core import DOCS_URL, RuleSpec
from smarketing.rules._data import DataRule
from smarketing.typing import Severity

BUILTIN_RULES: Final[tuple[RuleSpec, ...]] = (
    *_journey.RULES,
    *_sla.RULES,
    *_kpis.RULES,
    *_rewards.RULES,
    *_personas.RULES,
    *_language.RULES,
    *_collaboration.RULES,
)

#: The built-in data rules (run only when ``check`` is given data), in documentation order.
DATA_RULES: Final[tuple[DataRule, ...]] = (
    *_data.RULES,
    *_persona_data.RULES,
    *_dispositions.RULES,
    *_customer_feedback.RULES,
    *_campaigns.RULES,
    *_waterfall.RULES,
)


@attrs.frozen
class EngineCode:
    """A diagnostic the engine itself reports (not a rule of the plan)."""

    code: str
    severity: Severity
    title: str
    rationale: str
    fix: str

    @property
    def url(self) -> str:
        """Anchor on the rules page."""
        return f"{DOCS_URL}#{self.code.lower()}"


RULE_CRASHED: Final = EngineCode(
    "SM001",
    "error",
    "A rule failed while checking",
    "A rule that raises (or calls sys.exit()), returns something that is not a valid finding or more than "
    "1,000 findings, or runs past its time budget cannot say whether the plan follows it, so the check "
    "cannot pass; its findings are dropped, and the other rules still run and are reported.",
    "Report the message to the rule's author (for a plugin rule, the plugin it names); --ignore the code "
    "to check the rest meanwhile.",
)
PLUGIN_FAILED: Final = EngineCode(
    "SM002",
    "error",
    "A plugin rule could not be loaded",
    "A plugin from the 'smarketing.rules' entry-point group failed to import (or exited while importing), "
    "is not a rule, has a rule attribute that fails or is not valid text, or reuses a code; its rules did "
    "not run, so the check cannot vouch for them.",
    "Fix or uninstall the plugin package named in the message.",
)
ENGINE_CODES: Final[tuple[EngineCode, ...]] = (RULE_CRASHED, PLUGIN_FAILED)
