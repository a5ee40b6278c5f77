"""Emails rendered with Jinja2: a subject, a plain-text part and an HTML part per kind.

Templates live in `billing/notify/templates` as `<kind>.subject.txt`, `<kind>.txt` and
`<kind>.html`; HTML is autoescaped and a missing variable is an error, never a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("billing.notify", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_email(kind: str, context: dict[str, Any]) -> RenderedEmail:
    env = environment()
    subject = env.get_template(f"{kind}.subject.txt").render(context).strip()
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{kind}.txt").render(context),
        html=env.get_template(f"{kind}.html").render(context),
    )
