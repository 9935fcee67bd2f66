"""French messages for every problem code, served when the caller prefers
French (``Accept-Language: fr``). A test fails when a domain error's code has
no entry here, so the catalogue cannot fall behind the code."""

from __future__ import annotations

DETAILS_FR: dict[str, str] = {
    "account_closed": "Le compte est clôturé et n'accepte plus de virements.",
    "account_managed": "Le compte est géré par Sika : seule son API propre y déplace de l'argent ou le clôture.",
    "account_has_pending_transfers": "Le compte a des virements en attente : validez-les ou annulez-les d'abord.",
    "account_not_found": "Compte du grand livre introuvable.",
    "alert_not_found": "Alerte introuvable.",
    "allowlist_entry_not_found": "Ce destinataire ne figure pas sur la liste autorisée de la partie.",
    "allowlist_not_self_service": (
        "La plateforme ne laisse pas une partie modifier sa propre liste autorisée : sa clé de plateforme le fait."
    ),
    "allowlist_self": "Une partie ne s'inscrit pas sur sa propre liste autorisée.",
    "amount_exceeds_pending": "Le montant à valider dépasse le virement en attente.",
    "amount_overflow": "Un total de compte dépasserait le plus grand montant que le grand livre peut contenir.",
    "api_key_not_found": "Clé d'API introuvable.",
    "bad_request": "Requête invalide.",
    "certification_needs_support": "Seule une clé support ou admin certifie une partie.",
    "collection_not_awaiting_otp": "L'encaissement n'attend pas de code OTP.",
    "collection_not_found": "Encaissement introuvable.",
    "conflict": "La requête est en conflit avec l'état actuel de la ressource.",
    "currency_mismatch": "La devise du virement diffère de celle de ses comptes.",
    "customer_email_required": (
        "Le prestataire exige l'e-mail du client : envoyez « email » ou renseignez-le sur la partie."
    ),
    "exceeds_debits": "Le compte crédité ne peut pas recevoir plus de crédits que ses débits.",
    "hold_not_found": "Réservation introuvable.",
    "hold_not_placed_by_caller": (
        "Seul ce qui a placé une réservation la résout : un jeton de partie, celles que sa partie a placées ; "
        "une clé d'API, celles placées avec une clé d'API."
    ),
    "hold_owned_by_api": (
        "Cette réservation a été placée par l'API des réservations : seul /v1/holds l'encaisse ou la libère."
    ),
    "hold_owned_by_payout": (
        "Cette réservation garantit un décaissement : seul le décaissement lui-même l'encaisse ou la libère."
    ),
    "http_error": "Requête invalide.",
    "idempotency_key_already_used": (
        "Cette clé d'idempotence a déjà créé un encaissement ou un décaissement (sa réponse enregistrée a expiré)."
    ),
    "idempotency_key_in_flight": (
        "Une requête avec cette clé d'idempotence n'a pas encore de réponse : réessayez plus tard pour obtenir "
        "son résultat."
    ),
    "idempotency_key_invalid": "L'en-tête Idempotency-Key doit compter de 1 à 255 caractères ASCII visibles.",
    "idempotency_key_required": (
        "Cette requête déplace de l'argent : elle exige un en-tête Idempotency-Key. Si sa réponse se perd, "
        "la même requête renvoyée avec la même clé rend cette réponse au lieu de déplacer l'argent une seconde fois."
    ),
    "idempotency_key_reused": "Cette clé d'idempotence a déjà servi pour une autre requête.",
    "insufficient_funds": "Le compte débité n'a pas assez de fonds disponibles.",
    "internal_error": "Une erreur inattendue s'est produite. Citez l'identifiant de requête pour la signaler.",
    "invalid_account": "Les attributs du compte ne sont pas valides.",
    "invalid_amount": "Le montant doit être un entier positif en unités mineures.",
    "invalid_capture": "Les montants ou la destination de l'encaissement de la réservation ne sont pas valides.",
    "invalid_cursor": (
        "Le curseur de pagination n'est pas valide : renvoyez un « next_cursor » tel qu'il a été donné."
    ),
    "invalid_party_token": "Le jeton de partie n'est pas valide.",
    "invalid_scopes": "Portée inconnue.",
    "invalid_text": (
        "Un texte de la requête contient un caractère impossible à enregistrer : U+0000 (NUL) "
        "ou un demi-codet d'indirection (surrogate) isolé."
    ),
    "invalid_transfer": "Les attributs du virement ne sont pas valides.",
    "invalid_value": "Une valeur de la requête ne peut pas être enregistrée (un nombre hors limites, par exemple).",
    "ledger_busy": "Le grand livre n'a pas pu appliquer le virement après plusieurs essais ; réessayez plus tard.",
    "malformed_json": "Le corps de la requête n'est pas du JSON valide.",
    "method_not_allowed": "Méthode non autorisée sur cette ressource.",
    "no_payout_provider": "Aucun prestataire n'est configuré pour décaisser dans cette devise.",
    "no_provider_available": "Aucun prestataire de paiement n'est disponible pour cet encaissement pour le moment.",
    "no_provider_route": "Aucun prestataire de paiement n'est configuré pour cette devise et ce moyen de paiement.",
    "not_authenticated": "Authentification requise : envoyez une clé d'API ou un jeton de partie valide.",
    "not_found": "Ressource introuvable.",
    "not_owned_by_party": "Un jeton de partie ne donne accès qu'aux ressources de sa propre partie.",
    "p2p_blocked_by_fraud_rule": (
        "Une règle antifraude de la plateforme a refusé ce mouvement ; un opérateur a été alerté."
    ),
    "p2p_limit_exceeded": "Le montant dépasse ce que le niveau de certification de l'expéditeur lui permet d'envoyer.",
    "p2p_recipient_not_allowlisted": (
        "La plateforme n'autorise les envois qu'aux destinataires de la liste autorisée, et celui-ci n'y figure pas."
    ),
    "p2p_recipient_not_certified": (
        "La plateforme n'autorise les envois qu'aux destinataires certifiés, et celui-ci ne l'est pas assez."
    ),
    "party_cannot_set_fee": (
        "Un jeton de partie ne fixe jamais de frais de plateforme : indiquez un portefeuille de destination "
        "et omettez platform_fee_minor."
    ),
    "party_not_found": "Partie introuvable.",
    "platform_not_found": "Plateforme introuvable.",
    "platform_required": "Cette installation compte plusieurs plateformes : indiquez laquelle avec platform_id.",
    "bound_key_cannot_create_platforms": (
        "Seule une clé rattachée à aucune plateforme (un opérateur de l'installation) crée des plateformes."
    ),
    "party_suspended": "La partie est suspendue : ses portefeuilles ne peuvent pas être débités.",
    "party_suspended_no_token": "La partie est suspendue : aucun jeton de partie ne lui est délivré.",
    "party_transfer_not_found": "Transfert entre parties introuvable.",
    "payload_too_large": "Le corps de la requête est trop volumineux.",
    "payout_not_found": "Décaissement introuvable.",
    "pending_transfer_already_resolved": "Le virement en attente a déjà été validé, annulé ou a expiré.",
    "pending_transfer_expired": "Le virement en attente a dépassé son délai.",
    "pending_transfer_not_expired": "Le virement en attente n'a pas atteint son délai.",
    "pending_transfer_not_found": "Virement en attente introuvable.",
    "permission_denied": "Ces identifiants ne permettent pas cette action.",
    "provider_currency_not_supported": "Ce prestataire de paiement ne gère pas cette devise.",
    "provider_declined": "Le prestataire de paiement a refusé la demande.",
    "provider_error": "Le prestataire de paiement n'a pas pu mener la demande à bien.",
    "provider_operation_not_found": "Le prestataire de paiement n'a aucune trace de cette opération.",
    "provider_operation_not_supported": "Ce prestataire de paiement ne prend pas en charge cette opération.",
    "provider_outcome_unknown": (
        "La réponse du prestataire n'est pas arrivée à temps : le résultat reste inconnu jusqu'au rapprochement."
    ),
    "provider_unavailable": (
        "Le prestataire de paiement est indisponible : la demande ne l'a pas atteint, "
        "ou il l'a refusée sans la traiter."
    ),
    "provider_wire_amount_not_whole": (
        "Le prestataire a envoyé un montant qui n'est pas un nombre entier d'unités mineures de la devise."
    ),
    "rate_limited": "Trop de requêtes ; réessayez plus tard.",
    "refused_with_record": "La requête a été refusée, et ce refus a été consigné.",
    "same_account": "Un virement a besoin de deux comptes différents.",
    "service_busy": (
        "Tous les créneaux de ce serveur pour la transaction d'une requête sont restés occupés ; réessayez sous peu."
    ),
    "service_unavailable": "Le service ne peut pas répondre pour le moment.",
    "token_lifetime_too_long": "Un jeton de partie ne peut pas vivre plus longtemps que PARTY_TOKEN_MAX_SECONDS.",
    "transfer_exists": "Un virement avec cet identifiant existe déjà avec un autre contenu.",
    "transfer_fee_takes_all": (
        "Les frais de la plateforme prendraient tout le montant : le destinataire ne recevrait rien."
    ),
    "transfer_id_reserved": (
        "Les identifiants qui commencent comme un identifiant Sika (xfr_…, hold_…, col_….credit) "
        "sont réservés aux virements que Sika crée lui-même ; choisissez-en un autre."
    ),
    "reconcile_not_open": "Seul un encaissement ou un décaissement ouvert peut être remis en rapprochement.",
    "transfer_in_flight": (
        "Un virement avec cet identifiant est en cours d'écriture par une autre requête ; "
        "réessayez pour obtenir sa réponse."
    ),
    "transfer_not_found": "Virement introuvable.",
    "transfer_not_pending": "Ce virement n'est pas un virement en attente.",
    "transfer_same_party": "Une partie ne se paie pas elle-même : indiquez le portefeuille d'une autre partie.",
    "unknown_currency": "Cette devise n'est pas prise en charge.",
    "unsupported_media_type": (
        "Cette route prend un corps JSON : envoyez-le avec l'en-tête Content-Type: application/json."
    ),
    "validation_failed": "La requête n'est pas valide ; voyez les erreurs champ par champ.",
    "wallet_currency_mismatch": "Le portefeuille est dans une autre devise.",
    "wallet_exists": "Cette partie a déjà un portefeuille dans cette devise.",
    "wallet_not_found": "Portefeuille introuvable.",
    "wallet_not_of_party": "Le portefeuille n'appartient pas à cette partie.",
    "webhook_delivery_not_found": "Aucune livraison de ce point de réception de webhooks ne porte cet identifiant.",
    "webhook_endpoint_not_found": "Point de réception de webhooks introuvable.",
    "webhook_endpoint_url_refused": (
        "Un point de réception de webhooks doit être une URL https dont l'hôte ne se résout qu'en adresses publiques."
    ),
    "webhook_event_not_found": "Événement de webhook introuvable.",
    "webhook_event_not_retryable": "Seul un événement de webhook échoué ou sans correspondance peut être retraité.",
    "webhook_malformed": "Le corps du webhook n'est pas un événement que ce prestataire envoie.",
    "webhook_provider_unknown": "Sika n'accepte les webhooks que de paystack, fedapay et stripe.",
    "webhook_signature_invalid": "La signature du webhook n'est pas valide.",
    "deposit_exceeds_remaining": "Le dépôt dépasse ce qui manque encore au séquestre.",
    "escrow_action_not_allowed": "Cette partie ne peut pas effectuer cette action sur le séquestre.",
    "escrow_fee_too_high": "Les frais de la plateforme ne peuvent pas dépasser le montant du séquestre.",
    "escrow_not_found": "Séquestre introuvable.",
    "escrow_parties_invalid": "Le client et le bénéficiaire doivent être deux parties d'une même plateforme.",
    "escrow_party_has_no_wallet": (
        "Les deux parties doivent avoir un portefeuille dans la devise du séquestre : ouvrez-le d'abord."
    ),
    "escrow_state_conflict": "L'état du séquestre ne permet pas cette action.",
    "milestone_deadline_passed": (
        "L'échéance de livraison de l'étape est passée : elle est remboursée au client, pas livrée."
    ),
    "milestone_not_found": "Le séquestre n'a pas d'étape de ce numéro.",
    "milestone_state_conflict": "L'état de l'étape ne permet pas cette action.",
    "milestones_do_not_add_up": "La somme des montants des étapes doit être égale au montant du séquestre.",
    "resolution_does_not_add_up": "release_minor et refund_minor doivent totaliser le montant de l'étape.",
    "auto_payout_phone_required": (
        "auto_payout demande un numéro : envoyez-en un, ou enregistrez d'abord celui du bénéficiaire."
    ),
    "mandate_action_not_allowed": "Cette partie ne peut pas effectuer cette action sur le mandat.",
    "mandate_catalogue_unknown": (
        "Une catégorie ou un commerçant autorisé n'est pas dans le catalogue de la plateforme."
    ),
    "mandate_daily_limit_exceeded": "Cette dépense dépasserait la limite journalière du destinataire.",
    "mandate_exists": (
        "L'expéditeur a déjà un mandat actif pour ce bénéficiaire dans cette devise : complétez-le plutôt."
    ),
    "mandate_expired": "Le mandat a expiré : le reste revient à l'expéditeur.",
    "mandate_expiry_invalid": "expires_at doit être dans le futur.",
    "mandate_insufficient": "Il reste moins que ce montant sur le mandat.",
    "mandate_merchant_not_allowed": "Le mandat n'autorise ni ce commerçant ni sa catégorie.",
    "mandate_merchant_not_certified": "Le mandat ne paie que des commerçants certifiés, et celui-ci ne l'est pas.",
    "mandate_not_active": "Le mandat n'est plus actif.",
    "mandate_not_found": "Mandat introuvable.",
    "mandate_parties_invalid": "L'expéditeur et le bénéficiaire doivent être deux parties d'une même plateforme.",
    "mandate_party_has_no_wallet": "La partie doit avoir un portefeuille dans la devise du mandat : ouvrez-le d'abord.",
    "mandate_payee_exists": "Cette partie est déjà un destinataire autorisé du mandat.",
    "mandate_payee_not_found": "Le mandat n'a pas ce destinataire.",
    "mandate_purchase_above_maximum": "L'achat dépasse le montant maximal par achat du mandat.",
    "mandate_total_limit_exceeded": "Cette dépense dépasserait la limite totale du destinataire.",
    "merchant_exists": "Cette partie est déjà un commerçant.",
    "merchant_not_found": "Commerçant introuvable.",
    "spend_category_exists": "La plateforme a déjà une catégorie de dépense avec ce code.",
    "spend_category_not_found": "Catégorie de dépense introuvable.",
    "proof_already_decided": "La preuve a déjà été approuvée ou rejetée.",
    "proof_duplicate": (
        "Cette photo a déjà été envoyée comme preuve : une même photo ne peut pas prouver deux livraisons."
    ),
    "proof_file_too_large": "Le fichier dépasse la taille maximale d'une preuve (PROOF_MAX_FILE_BYTES).",
    "proof_files_invalid": "Envoyez entre une et PROOF_MAX_FILES images, dans des champs multipart nommés « files ».",
    "proof_image_too_large": "L'image a plus de pixels que PROOF_MAX_PIXELS n'en autorise.",
    "proof_not_an_image": (
        "Le fichier n'est pas une image que Sika sait décoder (JPEG, PNG ou HEIC), ou il est tronqué."
    ),
    "proof_not_found": "Preuve introuvable.",
    "proof_rule_not_found": "Cette étape ne déclare aucune règle de preuve.",
    # Instalment plans (sika.instalments).
    "instalment_plan_not_found": "Échéancier introuvable.",
    "instalment_not_found": "Échéance introuvable.",
    "instalments_do_not_add_up": "La somme des montants des échéances doit être égale au total de l'échéancier.",
    "instalment_plan_parties_invalid": "Le payeur et le bénéficiaire doivent être deux parties d'une même plateforme.",
    "instalment_plan_party_has_no_wallet": (
        "Le payeur (et le bénéficiaire s'il est une partie) doivent avoir un portefeuille dans la devise "
        "de l'échéancier : ouvrez-le d'abord."
    ),
    "instalment_plan_state_conflict": "L'état de l'échéancier ne permet pas cette action.",
    "instalment_not_payable": "L'échéance a été annulée ou arrêtée : rien n'est encaissé pour elle.",
    "instalment_already_paid": "L'échéance est déjà payée.",
    "instalment_payment_in_flight": "Un paiement de cette échéance est en cours : attendez son issue.",
    "instalment_action_not_allowed": "Cet appelant ne peut pas effectuer cette action sur l'échéance.",
    "promo_code_already_redeemed": "Ce code promo est déjà réservé ou utilisé pour cet objet.",
    "promo_code_exhausted": "Ce code promo a été utilisé autant de fois qu'il le peut.",
    "promo_code_exists": "La plateforme a déjà un code promo identique (la casse ne compte pas).",
    "promo_code_expired": "Ce code promo a expiré.",
    "promo_code_expiry_invalid": "expires_at doit suivre starts_at (maintenant, si starts_at est omis).",
    "promo_code_inactive": "Ce code promo a été désactivé.",
    "promo_code_invalid": "Aucun code promo de la plateforme ne porte ce code.",
    "promo_code_not_applicable": "Ce code promo ne s'applique pas ici : autre devise ou autre plan.",
    "promo_code_not_found": "Code promo introuvable.",
    "promo_code_not_yet_valid": "Ce code promo n'est pas encore valable.",
    "promo_redemption_not_found": "Ce code promo n'a pas d'utilisation pour cet objet.",
    "promo_redemption_state_conflict": (
        "L'état de l'utilisation ne le permet pas : seule une utilisation réservée est confirmée ou libérée."
    ),
}
