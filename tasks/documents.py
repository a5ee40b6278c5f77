"""Document tasks: print and store the PDFs of finalized invoices, a chunk at a time."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services.invoice_documents import DocumentReport, invoices_to_render, render_pdfs


@task(name="find-invoices-to-render", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def find_invoices_to_render() -> list[int]:
    return invoices_to_render(resources.engine())


@task(name="render-invoice-pdfs", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def render_invoice_pdfs(invoice_ids: list[int]) -> DocumentReport:
    """Render and store the PDFs of a chunk of invoices, outside any billing transaction."""
    return render_pdfs(resources.engine(), invoice_ids, resources.utc_now())
