"""Seeded synthetic B2B funnel data consistent with an alignment plan.

:func:`synthetic` invents a realistic CRM for a plan: accounts, leads matched to the plan's personas,
marketing and sales touchpoints, stage events that walk the plan's journey (with recycles, disqualifications,
a few deviations from the map and leads still open at the end), sales activities after each handoff timed
against the SLA's business calendar, deals in two currencies, and disposition feedback. It is what the demo,
the docs and the tests run on, and what the benchmarks scale to a million leads, so it is vectorised: numpy
draws and polars columns, no Python loop per lead.

Everything is read from the plan (stage, team, person, persona, reason ids; rates; SLA targets). Where a
plan part is missing a documented fallback stands in, so a minimal plan (two teams, a journey) works too.

About 88% of leads are labelled with a persona and a grade (better grades convert more often), and their
titles, seniorities and accounts' firmographics are drawn from that persona's criteria and fit rules, so
that the grade's fit rules hold; 15% of labelled leads are drawn one criterion short. With the
example plan about 90% of labelled leads match a persona by :func:`smarketing.persona.match` and about
3% of unlabelled ones do (``_fit`` says how; it draws on a stream of its own, so a change there leaves
every other column and record alone).

What it produces with ``examples/plan.yaml`` (12 months to 2026-10-31; the same per lead from 5,000 to
1,000,000 leads; a million take 15 to 25 s and 2.5 GB of memory on two cores):

============  ========  ========================================================================
record        per lead  notes
============  ========  ========================================================================
accounts      0.40      about 2.5 leads per account
touchpoints   4.5       1 to 20 per lead, the first at creation (the lead's source and campaign)
stage events  5.2       5.5 for leads older than the journey (recent ones are still open); with
                        the plan's rates, recycles included; about 4% of leads leave the map
activities    5.0       attempts per handoff are scaled to 5 per lead overall (1 to 10 each)
deals         0.24      EUR for European regions, USD for north_america; about one in four won
dispositions  0.72      per handoff; about 9% never come, about 11% come late
============  ========  ========================================================================

The package, by seam: ``_generate`` (:func:`synthetic`, which runs the parts in order), ``_facts`` (what
is read from the plan), ``_people`` (accounts and leads), ``_events`` (the journey walk), ``_touches``,
``_follow_up`` (activities and dispositions, timed by ``_clock`` on the library's one business clock),
``_deals``, ``_fit`` (titles and firmographics that fit the personas), ``_leads``, with ``_shape`` (the
shares and vocabularies) and ``_columns`` (array helpers).
"""

from smarketing.datasets._generate import DEFAULT_END, synthetic
from smarketing.datasets.hubspot_export import write_hubspot_export
from smarketing.datasets.salesforce_export import SALESFORCE_CUSTOM_FIELDS, write_salesforce_export
from smarketing.records import Dataset

__all__ = [
    "DEFAULT_END",
    "Dataset",
    "SALESFORCE_CUSTOM_FIELDS",
    "synthetic",
    "write_hubspot_export",
    "write_salesforce_export",
]
