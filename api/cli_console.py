"""The command line's console, and the one way every ``safetwin`` command reports an error."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error the way every command does and exit with ``code``.

    Soft-wrapped: the terminal folds a long line, but piped into a log the message stays one
    line, so a path or the command to run next is never cut in two (rich folds at 80 columns).
    """
    console.print(f"[bold red]✗[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)
