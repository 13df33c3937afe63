"""The `musegen` command line: thin wrappers that parse options and call one library function.

Heavy imports (torch, miditok, music21) happen inside the commands so `musegen --help` is fast.
A user mistake prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import re
import sys

import typer

app = typer.Typer(
    help="Continue MIDI by style or mood with a small transformer; DAW-safe MIDI and audio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
corpus_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


# Parameters whose flag is not their name with dashes.
FLAGS = {"out": "-o", "corpus": "--corpus"}


class UserError(Exception):
    """Raised inside commands for problems the user can fix (exit status 2)."""


def fail(message: str) -> None:
    raise UserError(message)


# --------------------------------------------------------------------------- entry point


def as_flags(message: str) -> str:
    """Library errors name parameters in backticks (`max_notes`); the CLI shows its flags."""
    return re.sub(r"`(\w+)`", lambda m: FLAGS.get(m.group(1), "--" + m.group(1).replace("_", "-")),
                  message)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit status 2."""
    from musegen.errors import MuseGenError

    try:
        result = app(args=argv, standalone_mode=False)
    except (UserError, MuseGenError, FileNotFoundError) as exc:
        print(f"musegen: error: {as_flags(str(exc))}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("musegen: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, ...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message.strip():  # bare `musegen` printed its help
            return 0
        print(f"musegen: error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
