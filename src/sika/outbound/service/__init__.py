"""Outbound webhooks: ``endpoints`` (what a platform registers, its secret, the
delivery log, retry and replay) and ``delivery`` (fan-out, claim, one signed
attempt, its outcome). This package names what the rest of Sika calls:
``outbound_service.<name>``. docs/webhooks-out.md tells it for users."""

from sika.outbound.service.delivery import (
    Message,
    Outcome,
    Pumped,
    body_of,
    claim,
    fan_out,
    pump_once,
    record,
    send,
)
from sika.outbound.service.endpoints import (
    MAX_REPLAY,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    replay,
    retry_delivery,
    rotate_secret,
    signing_secrets,
    update_endpoint,
)
from sika.outbound.service.errors import DeliveryNotFound, EndpointNotFound, EndpointUrlRefused
from sika.outbound.service.queue import PUMP_TASK, queue_pump
from sika.outbound.service.watch import EndpointHealth, Watch, watch

__all__ = [
    "MAX_REPLAY",
    "PUMP_TASK",
    "DeliveryNotFound",
    "EndpointHealth",
    "EndpointNotFound",
    "EndpointUrlRefused",
    "Message",
    "Outcome",
    "Pumped",
    "Watch",
    "body_of",
    "claim",
    "create_endpoint",
    "delete_endpoint",
    "fan_out",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "pump_once",
    "queue_pump",
    "record",
    "replay",
    "retry_delivery",
    "rotate_secret",
    "send",
    "signing_secrets",
    "update_endpoint",
    "watch",
]
