"""`BILLING_CONSOLE_FRAME_ANCESTORS`: the origins that may frame the console, checked at load.

The value goes into a `Content-Security-Policy: frame-ancestors ...` header as it is, so it
holds source expressions only, separated by spaces: `'self'`, `'none'` (alone), a scheme
(`https:`), or a host source (`https://app.example.com`, `https://*.example.com:8443`,
`http://127.0.0.1:5173`). A `;` or `,` would start another directive or policy, a newline
another header: any of them, or anything else that is not a source expression, is refused.
"""

from __future__ import annotations

import re

_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*"
_HOST = r"(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])"
_SOURCE = re.compile(
    rf"^(?:'self'|{_SCHEME}:|(?:{_SCHEME}://)?{_HOST}(?::(?:[0-9]{{1,5}}|\*))?(?:/[A-Za-z0-9._~%!$&'()*+=:@/-]*)?)$"
)


def check_frame_ancestors(value: str) -> str:
    """The value with its spaces normalised, or `ValueError` naming the first bad expression."""
    for forbidden, name in ((";", "';'"), (",", "','"), ("\n", "a newline"), ("\r", "a carriage return")):
        if forbidden in value:
            raise ValueError(f"holds {name}: only source expressions separated by spaces are allowed")
    sources = value.split()
    if not sources:
        raise ValueError("is empty: name who may frame the console, e.g. 'self' https://app.example.com")
    if "'none'" in sources:
        if len(sources) > 1:
            raise ValueError("'none' cannot be combined with other sources")
        return "'none'"
    for source in sources:
        if not source.isascii() or not source.isprintable() or not _SOURCE.match(source):
            raise ValueError(
                f"{source!r} is not a source expression ('self', https:, https://app.example.com)"
            )
    return " ".join(sources)
