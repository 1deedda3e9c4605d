"""Errors the ingest layer raises.  Their message is one line naming the input and the fault."""


class InputError(Exception):
    """The input is not something trialwatch can read (not a trial page, bad JSON, bad id).

    The CLI turns it into one line on stderr and exit code 2.
    """


class FetchError(Exception):
    """One trial could not be fetched or read (a 404, a body cut short, retries exhausted).

    Recorded as a failed check for that trial; the other trials go on (exit code 1).
    `status`: the registry's HTTP status when it answered with one (404: it has no such trial or
    version; 403: it refused), else None.  `content`: the answer came but was not what was asked
    for (not JSON, not a page of studies, too large): one record may be at fault, not the registry.
    """

    def __init__(self, message: str, nct_id: str | None = None, *, status: int | None = None, content: bool = False):
        super().__init__(message)
        self.nct_id = nct_id
        self.status = status
        self.content = content
