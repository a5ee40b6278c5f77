"""`billing console-url CUSTOMER`: a console URL for one customer, as the API's console sessions
mint them (the URL alone on stdout, so that `URL=$(billing console-url acme)` holds just it; its
expiry on stderr)."""

from __future__ import annotations

import sys


def console_url(customer_id: str) -> str:
    from billing.runtime import resources
    from billing.runtime.settings import get_settings
    from billing.services.console_sessions import DISABLED_MESSAGE, ConsoleDisabled, open_session
    from billing.store.catalog_versions import active_catalog

    settings = get_settings()
    if settings.console_secret is None:  # before the database: the setting is what is missing
        raise ConsoleDisabled(DISABLED_MESSAGE)
    with resources.engine(settings).connect() as connection:
        stored = active_catalog(connection)
    session = open_session(
        stored.catalog,
        customer_id,
        settings.console_secret.get_secret_value(),
        settings.console_ttl_minutes,
        settings.console_public_url,
        resources.utc_now(),
    )
    print(f"console URL for {customer_id!r}, valid until {session.expires_at.isoformat()}", file=sys.stderr)
    return session.url
