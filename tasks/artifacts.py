"""Run summaries published as Prefect artifacts (markdown tables on the flow run page)."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from billing.views.tables import markdown_table


@task(name="publish-summary", cache_policy=NO_CACHE)
def publish_summary(key: str, title: str, sections: dict[str, list[list[str]]]) -> None:
    """One markdown artifact: a heading and a table per section (first row is the header)."""
    parts = [f"# {title}"]
    for heading, rows in sections.items():
        parts.append(f"## {heading}")
        parts.append(markdown_table(rows) if len(rows) > 1 else "_none_")
    create_markdown_artifact(key=key, markdown="\n\n".join(parts), description=title)
