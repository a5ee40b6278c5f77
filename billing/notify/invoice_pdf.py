"""The invoice document: one Jinja2 template, served as HTML and printed to PDF by WeasyPrint.

`invoice_html(context)` renders `templates/invoice_document.html` with the context of
`billing.views.invoice_sheet`; `invoice_pdf(context)` prints the same HTML to an A4 PDF (page
numbers and the reference in the footer, the table header repeated on every page). WeasyPrint
needs the Pango library and takes a second to import, so it is imported on the first PDF only:
the CLI's read-only commands never pay for it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from billing.core.errors import BillingError
from billing.notify.rendering import environment

TEMPLATE = "invoice_document.html"

# Threads of one process share one Pango and fontconfig, which are not safe to drive from two
# threads at once: printing is serialized per process. Layout is Python-bound, so threads would
# not print faster anyway; a process-based task runner spreads the PDF chunks over cores.
_PRINTING = threading.Lock()


class DocumentError(BillingError):
    """An invoice document that could not be printed (WeasyPrint or its libraries missing)."""

    code = "document_failed"


def invoice_html(context: dict[str, Any]) -> str:
    return environment().get_template(TEMPLATE).render(context)


def invoice_pdf(context: dict[str, Any]) -> bytes:
    return html_to_pdf(invoice_html(context))


def html_to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as error:  # OSError: the Pango library cannot be loaded
        raise DocumentError(f"cannot print invoice PDFs: WeasyPrint is unavailable ({error})") from None
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # subsetting chatter at INFO
    with _PRINTING:
        pdf = HTML(string=html).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
