"""The names of ``sika check``'s invariants as the dashboard's health panel shows
them, in English and French (``sika.dashboard.i18n`` merges them into its
messages under ``check.<name>``)."""

CHECK_MESSAGES: dict[str, tuple[str, str]] = {
    # The invariants' checks, by name (sika.core.invariants.load())
    "check.balanced": (
        "Per currency, total debits equal total credits",
        "Par devise, le total des débits égale celui des crédits",
    ),
    "check.account_totals": (
        "Every account's totals equal the sums of its transfers",
        "Les totaux de chaque compte égalent les sommes de ses virements",
    ),
    "check.balance_flags": ("No account breaks its balance flag", "Aucun compte n'enfreint sa règle de solde"),
    "check.transfer_accounts": (
        "Every transfer's accounts exist, in its currency",
        "Les comptes de chaque virement existent, dans sa devise",
    ),
    "check.resolutions": (
        "Every post, void or expiry matches its pending transfer",
        "Chaque validation, annulation ou expiration correspond à son virement en attente",
    ),
    "check.timeouts": (
        "The expiry list holds exactly the open pending transfers with a timeout",
        "La liste d'expiration contient exactement les virements en attente ouverts ayant un délai",
    ),
    "check.wallet_accounts": (
        "Every wallet's two accounts are its party's, overdraft-protected, of the wallet kinds, in its currency",
        "Les deux comptes de chaque portefeuille sont à sa partie, protégés du découvert, des types portefeuille,"
        " dans sa devise",
    ),
    "check.wallet_open_holds": (
        "The open-holds list holds exactly the open pending transfers on wallet accounts",
        "La liste des réservations ouvertes contient exactement les virements en attente ouverts des comptes"
        " portefeuille",
    ),
    "check.wallet_hold_owners": (
        "Every hold out of a wallet has its owner, and every owner names a hold out of its wallet",
        "Chaque réservation d'un portefeuille a son propriétaire, et chaque propriétaire désigne une réservation"
        " de son portefeuille",
    ),
    "check.collection_credits": (
        "A succeeded collection credited its wallet once with its amount; any other credited nothing",
        "Un encaissement réussi a crédité son portefeuille une fois de son montant ; les autres n'ont rien crédité",
    ),
    "check.payout_holds": (
        "A payout's hold is of its amount, on its wallet, and resolved as the payout's state says",
        "La réservation d'un décaissement est de son montant, sur son portefeuille, et résolue comme le dit son état",
    ),
    "check.escrow_accounts": (
        "An escrow's account holds what was deposited less what was released and refunded",
        "Le compte d'un séquestre contient les dépôts, moins ce qui a été libéré et remboursé",
    ),
    "check.escrow_milestones": (
        "No milestone moved more than its amount; an ended one moved all of it, an open one nothing",
        "Aucune étape n'a versé plus que son montant ; une étape terminée l'a versé en entier, une ouverte rien",
    ),
    "check.escrow_closed_empty": (
        "An escrow that has ended holds nothing",
        "Un séquestre terminé ne contient plus rien",
    ),
    "check.mandate_accounts": (
        "A mandate's account holds what was put in less what was spent and returned",
        "Le compte d'un mandat contient ce qui y a été versé, moins ce qui a été dépensé et rendu",
    ),
    "check.mandate_payee_limits": (
        "No payee of a mandate was paid past its daily or total limit",
        "Aucun destinataire d'un mandat n'a été payé au-delà de sa limite journalière ou totale",
    ),
    "check.mandate_closed_empty": (
        "A mandate that has ended holds nothing",
        "Un mandat terminé ne contient plus rien",
    ),
    "check.proof_releases": (
        "A proof that released its milestone was approved and its milestone is released",
        "Une preuve qui a libéré son étape a été approuvée, et son étape est libérée",
    ),
    "check.proof_required_held": (
        "A milestone that requires a proof is released only by one, by its client or by an operator",
        "Une étape qui exige une preuve n'est libérée que par une preuve, par son client ou par un opérateur",
    ),
    "check.transfers_ledger": (
        "Each transfer paid its recipient the amount less the fee, and the platform the fee",
        "Chaque transfert a versé à son destinataire le montant moins les frais, et les frais à la plateforme",
    ),
    "check.outbound_delivery_states": (
        "A delivered webhook has a 2xx answer, a pending one a next attempt, a failed one was attempted",
        "Un webhook livré a une réponse 2xx, un webhook en attente une prochaine tentative, "
        "un webhook échoué a été tenté",
    ),
    "check.outbound_delivery_platform": (
        "A webhook delivery goes to an endpoint of its event's platform",
        "Une livraison de webhook va à un point de réception de la plateforme de son événement",
    ),
    "check.promo_codes_uses": (
        "Each promo code's uses equal its reserved and confirmed redemptions, within its maximum",
        "Les utilisations de chaque code promo égalent ses utilisations réservées et confirmées, dans sa limite",
    ),
    "check.promo_codes_uses_per_party": (
        "No party holds more redemptions of a promo code than its maximum per party",
        "Aucune partie ne détient plus d'utilisations d'un code promo que sa limite par partie",
    ),
    "check.instalment_paid_once": (
        "A paid instalment has exactly one succeeded payment; any other has none",
        "Une échéance payée a exactement un paiement réussi ; toute autre n'en a aucun",
    ),
    "check.instalment_payment_amounts": (
        "A succeeded instalment payment moved exactly its final amount",
        "Un paiement d'échéance réussi a déplacé exactement son montant final",
    ),
}
