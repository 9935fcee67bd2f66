"""The outbound domain's refusals."""

from __future__ import annotations

from sika.core import errors
from sika.outbound.safety import EndpointUrlRefused


class EndpointNotFound(errors.NotFound):
    """No such webhook endpoint."""

    code = "webhook_endpoint_not_found"


class DeliveryNotFound(errors.NotFound):
    """No such delivery of this webhook endpoint."""

    code = "webhook_delivery_not_found"


__all__ = ["DeliveryNotFound", "EndpointNotFound", "EndpointUrlRefused"]
