"""Errors that mean the user's input is wrong (exit code 2), as opposed to a failure (1)."""


class BadInput(ValueError):
    """Input that cannot be accepted; the message is one sentence naming what and where."""


class RowErrors(BadInput):
    """Several bad rows of one import; nothing of the import was stored."""

    def __init__(self, where: str, errors: list[tuple[int, str, str]]):
        self.where = where
        self.errors = errors  # (line number, column, reason)
        lines = [f"{where}: {len(errors)} bad row(s); nothing was imported."]
        lines += [f"  line {line}, column '{col}': {reason}" for line, col, reason in errors]
        super().__init__("\n".join(lines))
