"""A proof's checks against its milestone's rule, each recorded with its result.

* ``image``: the bytes decode whole as a JPEG, PNG or HEIC within the pixel limit
  (a proof that fails it is refused, not recorded);
* ``unique``: no proof of the platform has the same sha256 (refused too, 409);
* ``geofence``: the photo's GPS position lies within the rule's radius of its
  point, by haversine distance on a sphere of the Earth's mean radius;
* ``photo_time``: the photo was taken no longer than the rule's maximum age
  before the milestone's delivery, and not after now (give or take the clock skew).

A check the rule does not ask for is not recorded. The reasons are the failed
checks' codes, and ``auto_approve_off`` when everything passed but the rule wants
an operator to decide."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sika.proofs.models import ProofRule
from sika.proofs.service.images import Photo

EARTH_RADIUS_M = 6_371_008.8
"""The mean radius of the Earth (IUGG), in metres."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points, in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Outcome:
    checks: list[dict[str, Any]]
    reasons: list[str]
    distance_m: float | None

    @property
    def passed(self) -> bool:
        return not self.reasons


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "passed": passed, "detail": detail}


def evaluate(
    photo: Photo, rule: ProofRule | None, *, delivered_at: datetime, now: datetime, skew: timedelta
) -> Outcome:
    """Every check of ``photo`` under ``rule`` (none: an operator decides every proof)."""
    checks = [
        _check("image", True, f"{photo.content_type}, {photo.width}×{photo.height}"),
        _check("unique", True, "no other proof of the platform has these bytes"),
    ]
    reasons: list[str] = []
    distance = None
    if rule is not None and rule.latitude is not None and rule.longitude is not None and rule.radius_m is not None:
        if photo.latitude is None or photo.longitude is None:
            checks.append(_check("geofence", False, "the photo has no GPS position"))
            reasons.append("no_gps")
        else:
            distance = round(haversine_m(rule.latitude, rule.longitude, photo.latitude, photo.longitude), 1)
            inside = distance <= rule.radius_m
            checks.append(_check("geofence", inside, f"{distance} m from the point, radius {rule.radius_m} m"))
            if not inside:
                reasons.append("outside_geofence")
    if rule is not None and rule.max_age_seconds is not None:
        reasons.extend(_time_check(photo, rule.max_age_seconds, delivered_at, now, skew, checks))
    if not reasons and not (rule is not None and rule.auto_approve):
        reasons.append("auto_approve_off")
    return Outcome(checks=checks, reasons=reasons, distance_m=distance)


def _time_check(
    photo: Photo, max_age_seconds: int, delivered_at: datetime, now: datetime, skew: timedelta, checks: list[Any]
) -> list[str]:
    if photo.taken_at is None:
        checks.append(_check("photo_time", False, photo.exif.get("time_note", "the photo says nothing of its time")))
        return ["no_photo_time"]
    oldest = delivered_at - timedelta(seconds=max_age_seconds)
    taken = photo.taken_at.isoformat()
    if photo.taken_at < oldest:
        checks.append(_check("photo_time", False, f"taken {taken}, before {oldest.isoformat()}"))
        return ["photo_too_old"]
    if photo.taken_at > now + skew:
        checks.append(_check("photo_time", False, f"taken {taken}, after now"))
        return ["photo_in_future"]
    checks.append(_check("photo_time", True, f"taken {taken}, within {max_age_seconds} s before delivery"))
    return []
