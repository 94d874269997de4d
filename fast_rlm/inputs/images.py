"""run(images=[...]): images for the root agent's first message, read and typed here on the host.

Each is bytes, a file path (str or pathlib.Path; read here, never by the sandbox) or a data URL.
The rules for bytes and data URLs are those of llm_query(..., images=[...]) in the REPL: the same
file, engine/repl/image_values.py, is loaded here. Their decoded size counts against max_value_mb.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from typing import Any

from fast_rlm.errors import ImageError
from fast_rlm.host.resources import engine_dir

BYTES_PER_MB = 1024 * 1024


def _load_image_values() -> Any:
    spec = importlib.util.spec_from_file_location(
        "fast_rlm._image_values", engine_dir() / "repl" / "image_values.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_image_values = _load_image_values()


def run_images(images: Any, max_value_mb: float) -> list[dict[str, str]]:
    """Each image as {"media_type", "data"} (base64). Raises ImageError naming the image and the fix."""
    if images is None:
        return []
    if not isinstance(images, (list, tuple)):
        raise ImageError(
            f"images must be a list of images (bytes, file paths or data URLs); got {type(images).__name__}."
        )
    payloads = []
    total_bytes = 0
    for index, image in enumerate(images):
        payload = _payload(image, f"images[{index}]")
        total_bytes += len(base64.b64decode(payload["data"]))
        if total_bytes > max_value_mb * BYTES_PER_MB:
            raise ImageError(
                f"the images come to {total_bytes / BYTES_PER_MB:.1f} MB by images[{index}], over "
                f"max_value_mb={max_value_mb:g}. Send fewer or smaller images, or raise max_value_mb."
            )
        payloads.append(payload)
    return payloads


def _payload(image: Any, where: str) -> dict[str, str]:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _image_values.image_from_bytes(bytes(image), where, ImageError)
    if isinstance(image, str) and image.startswith("data:"):
        return _image_values.image_from_data_url(image, where, ImageError)
    if isinstance(image, (str, Path)):
        path = Path(image).expanduser()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(
                f"{where}: no file at {str(path)!r}. Check the path (relative ones start at {Path.cwd()})."
            ) from None
        except OSError as error:
            raise ImageError(f"{where}: cannot read {str(path)!r}: {error}.") from None
        return _image_values.image_from_bytes(data, f"{where} ({path})", ImageError)
    raise ImageError(
        f"{where} must be bytes, a file path or a data URL ('data:image/png;base64,...'); "
        f"got {type(image).__name__}."
    )
