"""The one place where the CLI maps errors to messages and exit codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from codeweaver.cli import render
from codeweaver.errors import (
    CodeWeaverError,
    ConfigError,
    InputError,
    NotFoundError,
    UnavailableError,
)

__all__ = ["EXIT_CODES", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "exit_code_for", "guarded"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("codeweaver.cli")


# The one table: the first row whose class the error is an instance of gives the code;
# anything else is EXIT_FAILURE. An unreachable upstream is a failure, not a usage error:
# the same command may succeed when it is back.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InputError, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),
    (NotFoundError, EXIT_USAGE),
    (UnavailableError, EXIT_FAILURE),
)


def exit_code_for(exc: BaseException) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return EXIT_FAILURE


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; turn any error into one line on stderr and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import typer  # loaded already whenever a command runs; errors.py stays light

        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except CodeWeaverError as exc:
            render.error(str(exc))
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            render.error("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # last resort: never show a traceback to the user
            log.debug("unexpected error", exc_info=True)
            render.error(f"unexpected error: {type(exc).__name__}: {exc}")
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper
