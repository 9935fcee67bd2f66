"""Reading a proof's bytes: what kind of image they are (from the bytes, never from
a name or a header), whether they decode whole within the pixel limit, and what
their EXIF says (camera, time taken, GPS position).

Decoding runs in a worker thread (``inspect`` is blocking; the router awaits it
through ``asyncio.to_thread``). A decompression bomb is refused by its declared
size before any pixel is decoded; a file cut short fails to decode whole.
HEIC is read through pillow-heif, which registers itself with Pillow here."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, UnidentifiedImageError

from sika.core import text
from sika.proofs.service.errors import ProofImageTooLarge, ProofNotAnImage

pillow_heif.register_heif_opener()

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "HEIF": "image/heic"}
"""The formats a proof may be in (Pillow's name: the stored content type)."""
MAX_TEXT = 100
"""A camera's make or model is kept to this many characters."""


@dataclass(frozen=True)
class Photo:
    content_type: str
    width: int
    height: int
    taken_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude_m: float | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    """What was read, as JSON: ``make``, ``model``, ``taken_at``, ``time_source``, ``latitude``,
    ``longitude``, ``altitude_m`` (each only when present), ``time_note`` when the time was unusable."""


def inspect(data: bytes, *, max_pixels: int) -> Photo:
    """The photo in ``data``; ProofNotAnImage or ProofImageTooLarge otherwise."""
    try:
        image = Image.open(io.BytesIO(data), formats=tuple(CONTENT_TYPES))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ProofImageTooLarge() from None
    except UnidentifiedImageError:
        raise ProofNotAnImage("The file is not a JPEG, PNG or HEIC image.") from None
    except Exception:  # a header cut short or malformed: the same to the sender as below
        raise ProofNotAnImage("The image does not decode whole: it is damaged or cut short.") from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ProofImageTooLarge(f"The image has {width}×{height} pixels; at most {max_pixels} are accepted.")
        try:
            image.load()
        # A broken file makes decoders raise all sorts (OSError when cut short, SyntaxError, ValueError,
        # struct.error…): any of them means the same to the sender, never a 500.
        except Exception:
            raise ProofNotAnImage("The image does not decode whole: it is damaged or cut short.") from None
        photo = Photo(content_type=CONTENT_TYPES[str(image.format)], width=width, height=height)
        try:
            return _with_exif(photo, image.getexif())
        except Exception:  # unreadable EXIF is missing EXIF: the checks say what that means
            return photo


def _with_exif(photo: Photo, exif: Image.Exif) -> Photo:
    found: dict[str, Any] = {}
    for name, tag in (("make", ExifTags.Base.Make), ("model", ExifTags.Base.Model)):
        value = exif.get(tag)
        if isinstance(value, str) and value.strip():
            found[name] = text.storable(value.strip())[:MAX_TEXT]
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    latitude = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "N", "S", 90)
    longitude = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "E", "W", 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    else:
        found.update(latitude=latitude, longitude=longitude)
    altitude = _altitude(gps.get(ExifTags.GPS.GPSAltitude), gps.get(ExifTags.GPS.GPSAltitudeRef))
    if altitude is not None:
        found["altitude_m"] = altitude
    taken_at, source, note = _taken_at(gps, exif.get_ifd(ExifTags.IFD.Exif))
    if taken_at is not None:
        found.update(taken_at=taken_at.isoformat(), time_source=source)
    elif note is not None:
        found["time_note"] = note
    return Photo(
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        taken_at=taken_at,
        latitude=latitude,
        longitude=longitude,
        altitude_m=altitude,
        exif=found,
    )


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(dms: object, ref: object, positive: str, negative: str, limit: int) -> float | None:
    """Degrees, minutes and seconds with their hemisphere, as signed decimal degrees."""
    if not isinstance(dms, tuple) or len(dms) != 3 or not isinstance(ref, str):
        return None
    parts = [_number(part) for part in dms]
    if any(part is None or part < 0 for part in parts) or ref.strip().upper() not in (positive, negative):
        return None
    degrees, minutes, seconds = (float(part) for part in parts if part is not None)
    value = degrees + minutes / 60 + seconds / 3600
    if value > limit:
        return None
    return round(-value if ref.strip().upper() == negative else value, 7)


def _altitude(value: object, ref: object) -> float | None:
    metres = _number(value)
    if metres is None:
        return None
    below_sea = ref in (1, b"\x01")
    return round(-metres if below_sea else metres, 2)


def _taken_at(gps: dict[int, Any], exif: dict[int, Any]) -> tuple[datetime | None, str | None, str | None]:
    """When the photo was taken: the GPS's UTC time first (the satellites' clock), else
    the camera's time with its offset; a camera time without offset is no instant."""
    stamp, day = gps.get(ExifTags.GPS.GPSTimeStamp), gps.get(ExifTags.GPS.GPSDateStamp)
    if isinstance(stamp, tuple) and len(stamp) == 3 and isinstance(day, str):
        parts = [_number(part) for part in stamp]
        try:
            midnight = datetime.strptime(day.strip(), "%Y:%m:%d").replace(tzinfo=UTC)
            if all(part is not None for part in parts):
                hours, minutes, seconds = (float(part) for part in parts if part is not None)
                return midnight + timedelta(hours=hours, minutes=minutes, seconds=seconds), "gps", None
        except (ValueError, OverflowError):
            pass
    original = exif.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(original, str):
        return None, None, None
    zone = _zone(exif.get(ExifTags.Base.OffsetTimeOriginal))
    if zone is None:
        return None, None, "camera time without time zone"
    try:
        local = datetime.strptime(original.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        return None, None, "camera time unreadable"
    return local.astimezone(UTC), "camera", None


def _zone(offset: object) -> timezone | None:
    if not isinstance(offset, str):
        return None
    value = offset.strip().rstrip("\x00")
    if len(value) != 6 or value[0] not in "+-" or value[3] != ":":
        return None
    try:
        hours, minutes = int(value[1:3]), int(value[4:6])
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if value[0] == "-" else delta)
    except ValueError:
        return None
