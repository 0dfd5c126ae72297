"""Receiving an upload: written to a temporary file chunk by chunk, hashed and measured on
the way, and stopped as soon as it passes the size limit of the kind it claims to be."""

import errno
import hashlib
import logging
from typing import cast

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from episodes.files import sniffing
from episodes.models import EpisodeFile

logger = logging.getLogger(__name__)

UPLOAD_FIELD = "file"
# `get_field` is typed as any field, whose `max_length` may be None; a CharField's never is.
CONTENT_TYPE_MAX_LENGTH = cast(int, EpisodeFile._meta.get_field("content_type").max_length)
# What a write says when the disk (or the user's quota on it) has no room left.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


class FileTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"


class StorageFull(APIException):
    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_code = "storage_full"
    default_detail = {"file": ["The server has no room for this file now. Try again later."]}


def no_space(exc: OSError) -> bool:
    return exc.errno in _NO_SPACE


def storage_full(exc: OSError, where: str) -> StorageFull:
    """Log for the operator (the runbook's 'disk full' entry) and answer the client plainly."""
    logger.error("no space left for an upload in %s: %s", where, exc)
    return StorageFull()


def limit_for(kind: str) -> int:
    return settings.FILES_MAX_BYTES[kind]


def largest_limit() -> int:
    return max(settings.FILES_MAX_BYTES.values())


def too_large(kind: str | None) -> FileTooLarge:
    if kind is None:
        return FileTooLarge({"file": [f"The limit for any file is {_megabytes(largest_limit())}."]})
    return FileTooLarge({"file": [f"The limit for {kind} files is {_megabytes(limit_for(kind))}."]})


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class ReceivedFile(TemporaryUploadedFile):
    """An upload on disk, with what was learnt while receiving it."""

    name: str
    size: int
    sha256: str
    head: bytes
    claimed: str


class EpisodeFileUploadHandler(FileUploadHandler):
    chunk_size = 256 * 1024

    def new_file(
        self,
        field_name,
        file_name,
        content_type,
        content_length,
        charset=None,
        content_type_extra=None,
    ):
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        if field_name != UPLOAD_FIELD or hasattr(self, "file"):
            self._refuse_extra_part(field_name)
        self.claimed = sniffing.claimed_type(content_type, file_name)
        if len(self.claimed) > CONTENT_TYPE_MAX_LENGTH:
            message = f"A content type has at most {CONTENT_TYPE_MAX_LENGTH} characters."
            raise ValidationError({UPLOAD_FIELD: [message]})
        kind = sniffing.kind_of(self.claimed) if self.claimed else None
        # Until the bytes say otherwise, the claimed kind sets the limit.
        self.limit_kind = kind
        self.limit = limit_for(kind) if kind else largest_limit()
        self.received = 0
        self.hasher = hashlib.sha256()
        self.head = bytearray()
        self.file = ReceivedFile(file_name, content_type, 0, charset, self.content_type_extra)

    def _refuse_extra_part(self, field_name: str) -> None:
        """One file per upload, in its field: the other parts would be stored nowhere, and
        Django's parser closes the file received so far whenever it skips one."""
        if hasattr(self, "file"):
            self.file.close()
        if field_name == UPLOAD_FIELD:
            raise ValidationError({UPLOAD_FIELD: ["Send one file per upload."]})
        raise ValidationError({field_name: [f"Only the `{UPLOAD_FIELD}` field takes a file."]})

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.file.close()
            raise too_large(self.limit_kind)
        if len(self.head) < sniffing.HEAD_BYTES:
            self.head += raw_data[: sniffing.HEAD_BYTES - len(self.head)]
        self.hasher.update(raw_data)
        try:
            self.file.write(raw_data)
        except OSError as exc:
            self.file.close()
            if no_space(exc):
                raise storage_full(exc, str(settings.FILE_UPLOAD_TEMP_DIR)) from exc
            raise

    def file_complete(self, file_size: int) -> ReceivedFile:
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.hasher.hexdigest()
        self.file.head = bytes(self.head)
        self.file.claimed = self.claimed
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()
