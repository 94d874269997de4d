"""Images as llm_query(..., images=[...]) and run(images=[...]) take them: bytes, or a data URL
(`data:image/png;base64,...`). Bytes are typed by their first bytes. Each becomes
{"media_type", "data"} (base64), as the engine expects (engine/images.ts).

The REPL loads this file as _rlm_image_values; the host (fast_rlm/inputs/images.py) loads the same file, so
both accept exactly the same images. A file path is for the host alone: the REPL has no files.
"""

import base64
import binascii

# First bytes -> media type, for the types every provider that takes images accepts.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def media_type_of(data: bytes):
    """The image type `data` starts like, or None."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_from_bytes(data: bytes, where: str, error_class) -> dict:
    media_type = media_type_of(data)
    if media_type is None:
        raise error_class(
            f"{where} is not a PNG, JPEG, GIF or WebP image (its first bytes are {bytes(data[:8])!r})."
        )
    return {"media_type": media_type, "data": base64.b64encode(data).decode("ascii")}


def image_from_data_url(url: str, where: str, error_class) -> dict:
    header, comma, payload = url.partition(",")
    media_type = header[len("data:") :].removesuffix(";base64")
    if not comma or not header.endswith(";base64") or media_type not in MEDIA_TYPES:
        raise error_class(
            f"{where} is not a base64 data URL of an image ({', '.join(MEDIA_TYPES)}), "
            "e.g. 'data:image/png;base64,iVBOR...'."
        )
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise error_class(f"{where}: the data URL's payload is not valid base64.") from None
    return {"media_type": media_type, "data": payload}
