"""Findings: the questions researchers ask of a trial's history, answered from its timeline.

Each finding family is one small module of pure rules over a `Timeline` (the trial's snapshots
in time order, each with the trial as known after it): `registration` (retrospective and
retroactively prospective registration), `outcomes` (primary outcome changes), `progress`
(primary completion slippage, enrollment against the first estimate), `fdaaa` (results due,
overdue and late under FDAAA 801, and the plain 12/24-month rule), `status` (stale status,
completion update lag, why a trial stopped), `sponsors` (sponsor or responsible party changed,
site churn).  `definitions` says what each finding means and where the definition comes from;
`evaluate` runs them all.  Nothing here reads or writes the database: the store keeps the
findings table (`trialwatch.snapshots.store.findings`), the jobs decide when to refresh it
(`trialwatch.snapshots.jobs.findings`).
"""
