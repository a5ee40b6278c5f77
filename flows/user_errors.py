"""A user's mistake ends a flow run as one line, never as a traceback.

A `BillingError` (an unknown customer, no catalog loaded, an email backend without its key, a
run that could not invoice some customers) is the user's to fix: the run ends Failed with the
error's message, which Prefect shows as the run's state message, and no stack trace. Calling
the flow still raises the error, so the command line reports it on stderr. Any other exception
is a bug and keeps Prefect's traceback.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from prefect.states import Failed

from billing.core.errors import BillingError

P = ParamSpec("P")
R = TypeVar("R")


def fails_in_one_line(body: Callable[P, R]) -> Callable[P, R]:
    """Wrap a flow's body (under `@flow`): a `BillingError` becomes a Failed state."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return body(*args, **kwargs)
        except BillingError as error:
            return cast(R, Failed(message=str(error), data=error))

    # Prefect reads the parameters' types from the signature: give it the body's, resolved,
    # since the body's string annotations name types of the body's module, not this one.
    run.__signature__ = inspect.signature(body, eval_str=True)  # type: ignore[attr-defined]
    return run
