"""The exceptions that the CLI translates into exit codes (SPEC.md: 0 ok, 1 finding, 2 bad input, 3 internal)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class ModelcardError(Exception):
    """An expected failure with a one-line message; `exit_code` says what kind."""

    exit_code = EXIT_INTERNAL


class BadInput(ModelcardError):
    """Unreadable file, unknown model type, refused remote code, bad usage."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, where: object, problem: str) -> None:
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


class Failed(ModelcardError):
    """The gate or a validation failed: a finding about the input, not a crash."""

    exit_code = EXIT_FINDING
