"""Photos made in the test itself: JPEGs with the EXIF a phone writes (GPS position and
UTC time, camera time with its offset), PNGs, damaged files and decompression bombs."""

from __future__ import annotations

import io
import math
import secrets
from datetime import UTC, datetime

import pillow_heif
from PIL import ExifTags, Image

from sika.proofs.service.checks import EARTH_RADIUS_M

pillow_heif.register_heif_opener()

SITE = (5.3600, -4.0083)
"""A building site in Abidjan: the geofence's point in these tests."""
RADIUS_M = 100


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` due north of ``point`` (on the sphere the checks measure on)."""
    return point[0] + math.degrees(metres / EARTH_RADIUS_M), point[1]


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = math.floor(value)
    minutes = math.floor((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def _image(size: tuple[int, int]) -> Image.Image:
    """An image no other test makes: its colour is random, so its bytes (and sha256) are its own."""
    colour = tuple(secrets.randbelow(256) for _ in range(3))
    return Image.new("RGB", size, colour)


def jpeg(
    *, at: tuple[float, float] | None = None, taken: datetime | None = None, size: tuple[int, int] = (64, 48)
) -> bytes:
    """A JPEG taken at ``at`` (GPS latitude and longitude with their refs, an altitude) and
    ``taken`` (the GPS's UTC date and time stamps, and the camera's time with its offset)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Tecno"
    exif[ExifTags.Base.Model] = "Camon 20"
    if at is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if at[0] >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(at[0])
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if at[1] >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(at[1])
        gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
        gps[ExifTags.GPS.GPSAltitude] = 18.5
        if taken is not None:
            utc = taken.astimezone(UTC)
            gps[ExifTags.GPS.GPSDateStamp] = utc.strftime("%Y:%m:%d")
            gps[ExifTags.GPS.GPSTimeStamp] = (float(utc.hour), float(utc.minute), float(utc.second))
    if taken is not None:
        camera = exif.get_ifd(ExifTags.IFD.Exif)
        camera[ExifTags.Base.DateTimeOriginal] = taken.astimezone(UTC).strftime("%Y:%m:%d %H:%M:%S")
        camera[ExifTags.Base.OffsetTimeOriginal] = "+00:00"
    out = io.BytesIO()
    _image(size).save(out, "JPEG", exif=exif)
    return out.getvalue()


def heic(*, at: tuple[float, float], taken: datetime) -> bytes:
    """The same photo as ``jpeg`` makes, encoded as HEIC (as iPhones save them), through pillow-heif."""
    image = Image.open(io.BytesIO(jpeg(at=at, taken=taken)))
    out = io.BytesIO()
    image.save(out, "HEIF", exif=image.getexif())
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    _image((40, 30)).save(out, "PNG")
    return out.getvalue()


def bomb(side: int) -> bytes:
    """A PNG of ``side``×``side`` one-bit pixels: a few kilobytes that would decode to ``side``² pixels."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def now() -> datetime:
    return datetime.now(UTC)
