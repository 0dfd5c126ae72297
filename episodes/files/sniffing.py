"""What an uploaded file really is: its kind and content type, read from its first bytes.

The content type a client sends is a claim, often wrong (a browser guesses it from the
extension). The bytes decide; a claim they contradict is refused rather than stored.
"""

import mimetypes
from dataclasses import dataclass

import filetype

from episodes.models import FileKind

# Enough for every signature `filetype` knows, and to tell text from binary.
HEAD_BYTES = 8192
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Writers' formats: the text ones are only recognised by the claim, their bytes being text.
SCRIPT_TYPES = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/rtf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "text/plain",
        "text/markdown",
        "text/x-fountain",
        "text/rtf",
        "application/xml",
        "text/xml",
        "application/x-fdx",
    }
)
# Office and e-book formats are ZIP files inside; a short head may only show the ZIP.
ZIP_BASED_PREFIXES = ("application/vnd.openxmlformats", "application/vnd.oasis", "application/epub")
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-fdx"})
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
    "text/rtf": "application/rtf",
    "audio/wav": "audio/x-wav",
    "video/mkv": "video/x-matroska",
    "video/avi": "video/x-msvideo",
}


class ContentMismatch(ValueError):
    """The bytes are not what the client said they are."""


@dataclass(frozen=True)
class Sniffed:
    kind: str
    content_type: str


def kind_of(content_type: str) -> str:
    if content_type.startswith("image/"):
        return FileKind.IMAGE
    if content_type.startswith("video/"):
        return FileKind.VIDEO
    if content_type in SCRIPT_TYPES:
        return FileKind.SCRIPT
    return FileKind.OTHER


def claimed_type(content_type: str | None, file_name: str) -> str:
    """The type the client claims, normalised; a generic claim falls back to the name."""
    claimed = (content_type or "").split(";")[0].strip().lower()
    if claimed in GENERIC_TYPES:
        claimed = (mimetypes.guess_type(file_name)[0] or "").lower()
    if claimed in GENERIC_TYPES:
        claimed = ""
    if file_name.lower().endswith(".fountain") and claimed in ("", "text/plain"):
        claimed = "text/x-fountain"
    return ALIASES.get(claimed, claimed)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may cut a multi-byte character short; anything earlier is not UTF-8.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def _is_textual(content_type: str) -> bool:
    return content_type.startswith("text/") or content_type in TEXT_TYPES


def sniff(head: bytes, *, claimed: str) -> Sniffed:
    """Decide kind and content type from the bytes, checking them against the claim.

    Raises ContentMismatch when the claim names one format and the bytes are another.
    """
    detected = filetype.guess_mime(head)
    if detected is not None:
        content_type = _checked_claim(claimed, ALIASES.get(detected, detected))
        return Sniffed(kind_of(content_type), content_type)
    if _is_text(head):
        if claimed and not _is_textual(claimed):
            raise ContentMismatch(f"The file is text, not {claimed}.")
        content_type = claimed or "text/plain"
        return Sniffed(kind_of(content_type), content_type)
    if kind_of(claimed) != FileKind.OTHER or _is_textual(claimed):
        raise ContentMismatch(f"The file's content is not {claimed}.")
    return Sniffed(FileKind.OTHER, claimed or "application/octet-stream")


def _checked_claim(claimed: str, detected: str) -> str:
    """The content type to store: the detected one, or the claim where it is more precise."""
    if not claimed or claimed == detected:
        return detected
    if detected == "application/zip" and claimed.startswith(ZIP_BASED_PREFIXES):
        return claimed
    # Video containers share signatures (an .mov is often an MP4 inside); the kind is the
    # claim worth checking there. Elsewhere a different format is a different file.
    if kind_of(claimed) == kind_of(detected) == FileKind.VIDEO:
        return detected
    raise ContentMismatch(f"The file's content is {detected}, not {claimed}.")
