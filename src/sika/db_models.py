"""Every table's model, imported in one place so Alembic sees the whole schema."""

from sika.alerts import models as alerts_models
from sika.audit import models as audit_models
from sika.auth import models as auth_models
from sika.core.db import Base
from sika.escrow import models as escrow_models
from sika.events import models as events_models
from sika.idempotency import models as idempotency_models
from sika.instalments import models as instalments_models
from sika.ledger import models as ledger_models
from sika.mandates import models as mandates_models
from sika.outbound import models as outbound_models
from sika.p2p import models as p2p_models
from sika.parties import models as parties_models
from sika.payments import models as payments_models
from sika.platforms import models as platforms_models
from sika.promos import models as promos_models
from sika.proofs import models as proofs_models
from sika.transfers import models as transfers_models
from sika.wallets import models as wallets_models
from sika.webhooks import models as webhooks_models

__all__ = [
    "Base",
    "alerts_models",
    "audit_models",
    "auth_models",
    "escrow_models",
    "events_models",
    "idempotency_models",
    "instalments_models",
    "ledger_models",
    "mandates_models",
    "outbound_models",
    "p2p_models",
    "parties_models",
    "payments_models",
    "platforms_models",
    "promos_models",
    "proofs_models",
    "transfers_models",
    "wallets_models",
    "webhooks_models",
]
