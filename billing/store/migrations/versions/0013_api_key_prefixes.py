"""api key prefixes: no stored prefix holds a character of a key's secret

Revision ID: 0013
Revises: 0011

Keys made before key ids (`bk_<secret>`) had `prefix` = their first 10 characters: `bk_` and
seven characters of the secret. Those prefixes (10 characters; a key with an id has a
15-character `bk_<12 hex digits>`) become `bk_…`. The keys keep working: they are found by the
hash of the whole key, which is unchanged.

The downgrade changes nothing: the secret characters are gone for good, and the code before this
revision never reads `prefix`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

LEGACY_PREFIX = "bk_…"  # frozen here, as store.api_keys.LEGACY_PREFIX was when this was written
FIRST_FORMAT_PREFIX_LENGTH = 10


def upgrade() -> None:
    api_keys = sa.table("api_keys", sa.column("prefix", sa.String(16)))
    op.execute(
        api_keys.update()
        .where(sa.func.length(api_keys.c.prefix) == FIRST_FORMAT_PREFIX_LENGTH)
        .values(prefix=LEGACY_PREFIX)
    )


def downgrade() -> None:
    pass  # nothing to restore: see the module's docstring
