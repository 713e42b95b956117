"""The command line's exit codes, shared by every command module.

    >>> from toolkit.errors import ImportFailed
    >>> exit_code_for(ImportFailed("failed", record=None)), EXIT_USAGE
    (1, 2)
"""

from __future__ import annotations

from toolkit.errors import ImportFailed, ToolkitError, ValidationFailed

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERNAL", "exit_code_for"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def exit_code_for(exc: ToolkitError) -> int:
    """The exit code a library error maps to: 1 for a failed file or import, else 2."""
    return EXIT_FAILED if isinstance(exc, (ImportFailed, ValidationFailed)) else EXIT_USAGE
