"""The values an upload's callback body is filled with: OSS's system variables and the ``x:`` custom ones.

OSS fills ``callbackBody``'s ``${…}`` from what it knows about the finished upload (:class:`UploadFacts`) and
from the custom variables the uploader sent; ``imageInfo.*`` needs the image's header, read only when the body
asks for it (Pillow, the ``[image]`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from osscallback.upload.callback_params import CallbackParams, placeholders


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str


_FORMAT_NAMES = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tiff"}


def image_info(path: Path) -> ImageInfo | None:
    """Width, height and format of an image file, the way OSS reports them; ``None`` if not an image or Pillow
    is not installed (the ``[image]`` extra)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is optional
        return None
    try:
        with Image.open(path) as img:  # reads the header only
            fmt = img.format or ""
            return ImageInfo(img.width, img.height, _FORMAT_NAMES.get(fmt, fmt.lower()))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def needs_image_info(params: CallbackParams) -> bool:
    return any(name.startswith("imageInfo.") for name in placeholders(params.body))


@dataclass(frozen=True)
class UploadFacts:
    """What OSS knows about a finished upload: the source of the system variables."""

    bucket: str
    key: str
    etag: str
    size: int
    mime_type: str
    crc64: int
    content_md5: str
    client_ip: str
    request_id: str
    operation: str
    image: ImageInfo | None = None
    vpc_id: str = ""


def variables(facts: UploadFacts, custom: Mapping[str, str]) -> dict[str, str]:
    """All ``${…}`` values for one upload: system variables and the ``x:`` custom ones."""
    values = {
        "bucket": facts.bucket,
        "object": facts.key,
        "etag": facts.etag,
        "size": str(facts.size),
        "mimeType": facts.mime_type,
        "imageInfo.height": str(facts.image.height) if facts.image else "",
        "imageInfo.width": str(facts.image.width) if facts.image else "",
        "imageInfo.format": facts.image.format if facts.image else "",
        "crc64": str(facts.crc64),
        "contentMd5": facts.content_md5,
        "vpcId": facts.vpc_id,
        "clientIp": facts.client_ip,
        "reqId": facts.request_id,
        "operation": facts.operation,
    }
    values.update(custom)
    return values
