"""One progress-bar factory for every long step, drawn on stderr so stdout stays clean."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(enabled: bool = True, transient: bool = False) -> Progress:
    """A rich Progress on stderr; MUSEGEN_NO_PROGRESS=1 turns every bar off."""
    disabled = not enabled or os.environ.get("MUSEGEN_NO_PROGRESS") == "1"
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=disabled, transient=transient,
    )  # fmt: skip
