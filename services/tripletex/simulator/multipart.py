"""A minimal `multipart/form-data` reader for the voucher attachment upload.

Starlette's form parser needs the optional `python-multipart` package, which the project
does not depend on; the standard library's email parser handles one file part fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    content: bytes


def parse_form_file(content_type: str, body: bytes, field: str) -> UploadedFile | None:
    """Return the part named `field`, or None when the body has no such part."""
    if "multipart/form-data" not in content_type.lower():
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != field:
            continue
        payload = part.get_payload(decode=True)
        return UploadedFile(
            filename=part.get_filename() or field,
            content_type=part.get_content_type(),
            content=payload if isinstance(payload, bytes) else b"",
        )
    return None
