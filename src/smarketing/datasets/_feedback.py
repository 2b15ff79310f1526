"""Customer feedback: survey answers, reviews, call notes and support tickets after a lead is created."""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

from smarketing.datasets._facts import Facts

#: Share of leads that give one piece of feedback.
FEEDBACK_SHARE: Final = 0.15
#: Feedback sources, how often each comes, and the score type each carries.
SOURCES: Final = ("survey", "review", "call_note", "support", "interview")
SOURCE_P: Final = (0.4, 0.2, 0.2, 0.15, 0.05)
SCORE_TYPE: Final = ("nps", "csat", "none", "ces", "none")
#: Topics, one or two per feedback.
TAGS: Final = ("pricing", "onboarding", "integrations", "support", "reporting", "speed")
#: NPS answers 0..10 lean to passives and promoters; CSAT 1..5 to 4; CES 1..7 to the low (easy) end.
NPS_P: Final = (0.02, 0.02, 0.03, 0.03, 0.04, 0.06, 0.08, 0.14, 0.18, 0.2, 0.2)
CSAT_P: Final = (0.05, 0.08, 0.2, 0.4, 0.27)
CES_P: Final = (0.25, 0.3, 0.2, 0.1, 0.07, 0.05, 0.03)
#: Who has read it: nobody, marketing, sales, both.
SEEN_P: Final = (0.35, 0.25, 0.25, 0.15)


def draw_feedback(rng: np.random.Generator, facts: Facts, leads: pl.DataFrame, end_us: int) -> pl.DataFrame:
    """One feedback for about :data:`FEEDBACK_SHARE` of the leads, between its creation and ``end_us``.

    On a stream of its own, from the finished leads frame: every other record is drawn as before.
    """
    n_leads = leads.height
    chosen = np.flatnonzero(rng.random(n_leads) < FEEDBACK_SHARE)
    n = chosen.size
    created = leads.get_column("created_at").dt.timestamp("us").to_numpy()[chosen]
    time_us = created + (rng.random(n) * np.maximum(end_us - 1 - created, 0)).astype(np.int64)
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_P)
    score_type = np.array(SCORE_TYPE)[source]
    nps = rng.choice(11, size=n, p=NPS_P)
    csat = rng.choice(5, size=n, p=CSAT_P) + 1
    ces = rng.choice(7, size=n, p=CES_P) + 1
    score = np.select([score_type == "nps", score_type == "csat", score_type == "ces"], [nps, csat, ces], -1)
    first = rng.integers(0, len(TAGS), size=n)
    second = np.where(rng.random(n) < 0.4, (first + rng.integers(1, len(TAGS), size=n)) % len(TAGS), -1)
    seen = rng.choice(4, size=n, p=SEEN_P)
    tags = [[TAGS[a]] + ([TAGS[b]] if b >= 0 else []) for a, b in zip(first, second, strict=True)]
    teams: tuple[list[str], ...] = (
        [],
        [facts.marketing_team],
        [facts.sales_team],
        [facts.marketing_team, facts.sales_team],
    )
    return pl.DataFrame(
        {
            "id": [f"F{i + 1:07d}" for i in range(n)],
            "lead_id": leads.get_column("id").gather(chosen),
            "account_id": leads.get_column("account_id").gather(chosen),
            "time": pl.Series(time_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "source": np.array(SOURCES)[source],
            "score_type": score_type,
            "score": pl.Series(score, dtype=pl.Int64).replace(-1, None),
            "tags": tags,
            "text": [""] * n,
            "seen_by": [list(teams[s]) for s in seen],
        }
    )
