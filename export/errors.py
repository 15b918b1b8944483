"""The one error type the export raises for problems the user can fix; the CLI prints it without a traceback."""


class ExportError(Exception):
    """A failure with a message that tells the user what to do next."""
