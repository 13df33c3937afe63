"""Checkpoint folders: safetensors weights + config.json + tokenizer.json + card.md.

Training writes them (`export_run`), generation reads them (`load`); pickle is never loaded
from a user's path.
"""

from musegen.checkpoint.folder import (
    DTYPES,
    Checkpoint,
    export_run,
    lightning_state,
    load,
    resolve,
    save,
)

__all__ = ["DTYPES", "Checkpoint", "export_run", "lightning_state", "load", "resolve", "save"]
