"""Errors a user can fix, worded for the person who has to fix them."""

from __future__ import annotations


class XlfundError(Exception):
    """Base class: anything xlfund reports to a user rather than crashing with."""


class InputError(XlfundError, ValueError):
    """The input cannot be used as it is; ``problems`` lists every reason found.

    Each problem is one plain-English sentence that names the school, cluster or
    parameter concerned and says what to do.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self._summary())

    def _summary(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        shown = self.problems[:10]
        more = len(self.problems) - len(shown)
        lines = [f"{len(self.problems)} problems in the input:"]
        lines += [f"- {p}" for p in shown]
        if more:
            lines.append(f"- ... and {more} more")
        return "\n".join(lines)
