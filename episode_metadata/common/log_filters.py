"""Filters for the logging configuration; imported while logging is set up, before the apps
are, so this module imports nothing of Django's."""

import logging


class ClientMistake(logging.Filter):
    """Django logs a body past its DATA_UPLOAD_* limits as a security ERROR with a traceback;
    for an operator it is one client's mistake: a WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info = record.exc_text = None
        return True
