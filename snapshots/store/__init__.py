"""Storage: the schema (`migrations`) and the one place that speaks SQL (`store`).

Every SQL statement of trialwatch lives in this package; the rest of `snapshots` calls the
store's methods and gets plain dicts and dataclasses back.
"""
