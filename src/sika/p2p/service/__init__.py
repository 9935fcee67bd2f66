"""The P2P rules (``sika.p2p``): ``policy`` admits a movement between parties
(the policy, the limits, the fraud rules), ``allowlists`` and
``certifications`` keep what the policy reads, ``fraud`` raises the alerts.
Callers write ``p2p_service.<name>``."""

from sika.p2p.service.allowlists import AllowlistEntryNotFound, AllowlistNotSelfService, AllowlistSelf
from sika.p2p.service.certifications import CertificationNeedsSupport, certify, history, level_of
from sika.p2p.service.fraud import ALERT_PREFIX, BlockedByFraudRule
from sika.p2p.service.policy import LimitExceeded, RecipientNotAllowlisted, RecipientNotCertified, admit
from sika.p2p.service.values import Outgoing

__all__ = [
    "ALERT_PREFIX",
    "AllowlistEntryNotFound",
    "AllowlistNotSelfService",
    "AllowlistSelf",
    "BlockedByFraudRule",
    "CertificationNeedsSupport",
    "LimitExceeded",
    "Outgoing",
    "RecipientNotAllowlisted",
    "RecipientNotCertified",
    "admit",
    "certify",
    "history",
    "level_of",
]
