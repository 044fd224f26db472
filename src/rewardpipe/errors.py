"""The one exception type whose message is shown to the user as is (no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can act on: names the file, row and field and what was expected."""


def at(path: object, row: int | None = None, field: str | None = None) -> str:
    """`file:row: field:` prefix for messages (row is 1-based)."""
    where = str(path)
    if row is not None:
        where += f":{row}"
    if field:
        where += f": {field}"
    return where
