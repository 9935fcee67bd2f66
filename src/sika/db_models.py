"""Every table's model, imported in one place so Alembic sees the whole schema."""

from sika.alerts import models as alerts_models
from sika.audit import models as audit_models
from sika.auth import models as auth_models
from sika.core.db import Base
from sika.idempotency import models as idempotency_models
from sika.ledger import models as ledger_models
from sika.parties import models as parties_models
from sika.wallets import models as wallets_models

__all__ = [
    "Base",
    "alerts_models",
    "audit_models",
    "auth_models",
    "idempotency_models",
    "ledger_models",
    "parties_models",
    "wallets_models",
]
