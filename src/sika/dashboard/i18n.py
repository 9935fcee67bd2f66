"""The dashboard's words in English and French, and the choice between them.

Every label has both texts side by side, so one cannot be added without the
other. The language comes from ``?lang=`` (remembered in a cookie), else the
cookie, else the browser's ``Accept-Language``, else English. Numbers,
amounts, dates and durations are written the way each language writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sika.core import money
from sika.dashboard.check_messages import CHECK_MESSAGES
from sika.dashboard.page_messages import PAGE_MESSAGES

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "sika_dashboard_lang"
LANGUAGE_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600

MESSAGES: dict[str, tuple[str, str]] = {
    # Frame
    "app.name": ("Sika operator dashboard", "Tableau de bord opérateur Sika"),
    "app.role": ("operator", "opérateur"),
    "nav.overview": ("Overview", "Vue d'ensemble"),
    "nav.alerts": ("Alerts", "Alertes"),
    "nav.stuck": ("Stuck payments", "Paiements bloqués"),
    "nav.webhooks": ("Webhook backlog", "Webhooks en attente"),
    "nav.escrows": ("Escrows", "Séquestres"),
    "nav.proofs": ("Proofs", "Preuves"),
    "nav.mandates": ("Mandates", "Mandats"),
    "nav.transfers": ("Transfers", "Transferts"),
    "nav.outbound": ("Webhook endpoints", "Points de réception"),
    "nav.search": ("Search", "Recherche"),
    "nav.language": ("Language", "Langue"),
    "nav.signed_in_as": ("Signed in with {name} ({scopes})", "Connecté avec {name} ({scopes})"),
    "nav.sign_out": ("Sign out", "Se déconnecter"),
    "footer.read_only": (
        "Read-only: an operator watches and acknowledges; money moves only through the API.",
        "Lecture seule : l'opérateur surveille et acquitte ; l'argent ne bouge que par l'API.",
    ),
    "time.utc_now": ("As of {time}", "Au {time}"),
    # Platforms (tenants)
    "platform.filter": ("Platform", "Plateforme"),
    "platform.all": ("All platforms", "Toutes les plateformes"),
    "platform.show": ("Show", "Afficher"),
    "platform.fixed": ("Platform: {name} ({id})", "Plateforme : {name} ({id})"),
    # Sign-in
    "login.title": ("Sign in", "Connexion"),
    "login.intro": (
        "Sign in with an API key that has the admin or support scope.",
        "Connectez-vous avec une clé d'API ayant le rôle admin ou support.",
    ),
    "login.key_label": ("API key", "Clé d'API"),
    "login.submit": ("Sign in", "Se connecter"),
    "login.refused_key": (
        "This API key is not valid, has been revoked or has expired.",
        "Cette clé d'API n'est pas valide, a été révoquée ou a expiré.",
    ),
    "login.refused_scope": (
        "This key has the scopes {scopes}; the dashboard needs a key with the admin or support scope.",
        "Cette clé a les rôles {scopes} ; le tableau de bord demande une clé ayant le rôle admin ou support.",
    ),
    "login.refused_form": (
        "The sign-in form expired or did not come from this page: try again.",
        "Le formulaire de connexion a expiré ou ne vient pas de cette page : réessayez.",
    ),
    "login.rate_limited": (
        "Too many sign-in attempts from this address: wait a minute and try again.",
        "Trop de tentatives de connexion depuis cette adresse : attendez une minute et réessayez.",
    ),
    "login.signed_out": ("You are signed out.", "Vous êtes déconnecté."),
    "login.session_ended": (
        "Your session has ended: sign in again.",
        "Votre session a pris fin : reconnectez-vous.",
    ),
    # Errors
    "error.title": ("Something is wrong", "Un problème est survenu"),
    "error.csrf": (
        "The form expired or did not come from the dashboard: nothing was changed. Reload the page and try again.",
        "Le formulaire a expiré ou ne vient pas du tableau de bord : rien n'a été modifié. "
        "Rechargez la page et réessayez.",
    ),
    "error.not_found": ("There is no such page.", "Cette page n'existe pas."),
    "error.alert_not_found": ("There is no such alert.", "Cette alerte n'existe pas."),
    "error.platform_not_found": (
        "There is no such platform: choose one in the list.",
        "Cette plateforme n'existe pas : choisissez-en une dans la liste.",
    ),
    "error.bad_request": ("The address is not valid.", "L'adresse n'est pas valide."),
    "error.back": ("Back to the overview", "Retour à la vue d'ensemble"),
    "error.escrow_resolution_invalid": (
        "Give whole amounts in minor units and a note of at most 1000 characters.",
        "Donnez des montants entiers en unités mineures et une note de 1000 caractères au plus.",
    ),
    "error.proof_decision_invalid": (
        "Choose approve or reject and give a reason of at most 1000 characters.",
        "Choisissez d'approuver ou de rejeter et donnez un motif de 1000 caractères au plus.",
    ),
    "error.proof_decision_refused": (
        "Not decided: the proof was decided already, or its milestone can no longer be released.",
        "Non décidée : la preuve l'a déjà été, ou son étape ne peut plus être libérée.",
    ),
    "error.escrow_resolution_refused": (
        "Not resolved: the two amounts must add up to the milestone's, and the milestone must still be disputed.",
        "Non tranché : les deux montants doivent totaliser celui de l'étape, et l'étape doit être encore en litige.",
    ),
    # Overview
    "overview.title": ("Overview", "Vue d'ensemble"),
    "overview.health": ("Ledger health", "Santé du grand livre"),
    "overview.health_ok": ("All the ledger's invariants hold.", "Tous les invariants du grand livre sont respectés."),
    "overview.health_breached": (
        "The ledger's invariants are breached: see the alerts and run `sika check`.",
        "Des invariants du grand livre sont enfreints : voir les alertes et lancer `sika check`.",
    ),
    "overview.health_installation": (
        "These checks cover the whole installation, every platform included.",
        "Ces contrôles portent sur toute l'installation, toutes plateformes comprises.",
    ),
    "overview.check": ("Check", "Contrôle"),
    "overview.result": ("Result", "Résultat"),
    "overview.breaches": ("Breaches", "Infractions"),
    "overview.ok": ("ok", "ok"),
    "overview.breached": ("breached", "enfreint"),
    "overview.totals": ("Totals per currency", "Totaux par devise"),
    "overview.currency": ("Currency", "Devise"),
    "overview.accounts": ("Accounts", "Comptes"),
    "overview.debits_posted": ("Debits posted", "Débits passés"),
    "overview.credits_posted": ("Credits posted", "Crédits passés"),
    "overview.debits_pending": ("Debits pending", "Débits en attente"),
    "overview.credits_pending": ("Credits pending", "Crédits en attente"),
    "overview.no_accounts": ("No ledger account yet.", "Aucun compte au grand livre pour l'instant."),
    "overview.attention": ("Needs attention", "À surveiller"),
    "overview.open_alerts": ("Open alerts", "Alertes ouvertes"),
    "overview.stuck_payments": ("Stuck payments", "Paiements bloqués"),
    "overview.stuck_detail": (
        "Collections: {collections} · payouts: {payouts}, not final after {after}",
        "Encaissements : {collections} · décaissements : {payouts}, non finalisés après {after}",
    ),
    "overview.webhook_backlog": ("Webhook backlog", "Webhooks en attente"),
    "overview.webhook_detail": (
        "Waiting: {pending} · failed: {failed}",
        "En attente : {pending} · en échec : {failed}",
    ),
    "overview.activity": (
        "Collections, payouts and escrows per day, last {days} days (UTC)",
        "Encaissements, décaissements et séquestres par jour, {days} derniers jours (UTC)",
    ),
    "overview.activity_table": ("Show the numbers", "Afficher les chiffres"),
    "overview.day": ("Day", "Jour"),
    # Platform fees
    "fees.title": ("Platform fees", "Commissions des plateformes"),
    "fees.platform": ("Platform", "Plateforme"),
    "fees.account": ("Fee account", "Compte de commissions"),
    "fees.earned": ("Earned", "Perçu"),
    "fees.none_yet": ("No fee earned yet.", "Aucune commission perçue pour l'instant."),
    "fees.no_platform": ("No platform yet.", "Aucune plateforme pour l'instant."),
    # Chart
    "chart.collections": ("Collections", "Encaissements"),
    "chart.payouts": ("Payouts", "Décaissements"),
    "chart.escrows": ("Escrows", "Séquestres"),
    "chart.bar_title": ("{day}: {count} {series}", "{day} : {count} {series}"),
    "chart.description": (
        "{collections} collections, {payouts} payouts and {escrows} escrows created from {first} to {last}.",
        "{collections} encaissements, {payouts} décaissements et {escrows} séquestres créés du {first} au {last}.",
    ),
    # Alerts
    "alerts.title": ("Alerts", "Alertes"),
    "alerts.filter_open": ("Open", "Ouvertes"),
    "alerts.filter_acknowledged": ("Acknowledged", "Acquittées"),
    "alerts.filter_all": ("All", "Toutes"),
    "alerts.none": ("No alert here.", "Aucune alerte ici."),
    "alerts.raised": ("Raised", "Levée"),
    "alerts.severity": ("Severity", "Gravité"),
    "alerts.kind": ("Kind", "Type"),
    "alerts.message": ("Message", "Message"),
    "alerts.about": ("About", "Concerne"),
    "alerts.state": ("State", "État"),
    "alerts.acknowledge": ("Acknowledge", "Acquitter"),
    "alerts.acknowledged_by": ("Acknowledged by {who} at {time}", "Acquittée par {who} le {time}"),
    "alerts.acknowledged_flash": ("Alert {id} acknowledged.", "Alerte {id} acquittée."),
    "alerts.older": ("Older alerts", "Alertes plus anciennes"),
    "alerts.english_only": (
        "Alert messages are written by Sika in English.",
        "Les messages d'alerte sont rédigés par Sika en anglais.",
    ),
    "severity.info": ("info", "info"),
    "severity.warning": ("warning", "avertissement"),
    "severity.critical": ("critical", "critique"),
    # Escrows
    # Stuck payments
    "stuck.title": ("Stuck payments", "Paiements bloqués"),
    "stuck.intro": (
        "Collections and payouts that are not final {after} after they were created "
        "(SIKA_RECONCILE_AFTER_SECONDS). Reconciliation asks their provider every minute.",
        "Encaissements et décaissements non finalisés {after} après leur création "
        "(SIKA_RECONCILE_AFTER_SECONDS). La réconciliation interroge leur prestataire chaque minute.",
    ),
    "stuck.collections": ("Collections ({count})", "Encaissements ({count})"),
    "stuck.payouts": ("Payouts ({count})", "Décaissements ({count})"),
    "stuck.none": ("None.", "Aucun."),
    "stuck.shown": ("The {shown} oldest are shown.", "Les {shown} plus anciens sont affichés."),
    "stuck.id": ("Id", "Identifiant"),
    "stuck.provider": ("Provider", "Prestataire"),
    "stuck.state": ("State", "État"),
    "stuck.amount": ("Amount", "Montant"),
    "stuck.party": ("Party", "Partie"),
    "stuck.created": ("Created", "Créé"),
    "stuck.age": ("Age", "Âge"),
    "stuck.last_checked": ("Last checked", "Dernière vérification"),
    "stuck.no_provider": ("none yet", "aucun encore"),
    "stuck.never": ("never", "jamais"),
    # Webhooks
    "webhooks.title": ("Webhook backlog", "Webhooks en attente"),
    "webhooks.intro": (
        "Provider webhooks stored by Sika, by provider and state. Waiting events are processed by the worker; "
        "failed, unmatched and rejected ones raised an alert.",
        "Webhooks des prestataires enregistrés par Sika, par prestataire et état. Les événements en attente "
        "sont traités par le worker ; ceux en échec, sans correspondance ou rejetés ont levé une alerte.",
    ),
    "webhooks.provider": ("Provider", "Prestataire"),
    "webhooks.total": ("Received", "Reçus"),
    "webhooks.oldest_waiting": ("Oldest waiting", "Plus ancien en attente"),
    "webhooks.attention": ("Events that need a person", "Événements à examiner"),
    "webhooks.none": ("None.", "Aucun."),
    "webhooks.event": ("Event", "Événement"),
    "webhooks.type": ("Type", "Type"),
    "webhooks.reference": ("Reference", "Référence"),
    "webhooks.attempts": ("Attempts", "Tentatives"),
    "webhooks.error": ("Last error", "Dernière erreur"),
    "webhooks.received_at": ("Received", "Reçu"),
    # Search
    "search.title": ("Search", "Recherche"),
    "search.q_label": (
        "Id, phone number, email, provider reference or Idempotency-Key",
        "Identifiant, numéro de téléphone, e-mail, référence du prestataire ou Idempotency-Key",
    ),
    "search.q_placeholder": ("e.g. 07 00 00 01 01", "ex. 07 00 00 01 01"),
    "search.amount_label": ("Amount (minor unit: francs, cents)", "Montant (unité mineure : francs, centimes)"),
    "search.since_label": ("From (UTC)", "Du (UTC)"),
    "search.until_label": ("To (UTC, included)", "Au (UTC, inclus)"),
    "search.submit": ("Search", "Rechercher"),
    "search.help": (
        "A phone number may be typed with spaces, with 00 or + before the country code, or by its last digits. "
        "An amount alone finds the collections, payouts and holds of exactly that amount.",
        "Un numéro peut être saisi avec des espaces, avec 00 ou + devant l'indicatif, ou par ses derniers chiffres. "
        "Un montant seul trouve les encaissements, décaissements et réservations de ce montant exact.",
    ),
    "search.read_as": ("Read as:", "Lu comme :"),
    "search.as.id:party": ("a party's id", "l'identifiant d'une partie"),
    "search.as.id:wallet": ("a wallet's id", "l'identifiant d'un portefeuille"),
    "search.as.id:ledger_account": ("a ledger account's id", "l'identifiant d'un compte du grand livre"),
    "search.as.id:collection": ("a collection's id", "l'identifiant d'un encaissement"),
    "search.as.id:payout": ("a payout's id", "l'identifiant d'un décaissement"),
    "search.as.id:hold": ("a hold's id", "l'identifiant d'une réservation"),
    "search.as.id:webhook_event": ("a webhook event's id", "l'identifiant d'un événement webhook"),
    "search.as.id:escrow": ("an escrow's id", "l'identifiant d'un séquestre"),
    "search.as.id:proof": ("a proof's id", "l'identifiant d'une preuve"),
    "search.as.id:mandate": ("a mandate's id", "l'identifiant d'un mandat"),
    "search.as.id:transfer": ("a transfer's id", "l'identifiant d'un transfert"),
    "search.as.id:webhook_delivery": ("a webhook delivery's id", "l'identifiant d'une livraison de webhook"),
    "search.as.email": ("an email", "un e-mail"),
    "search.as.phone": ("a phone number", "un numéro de téléphone"),
    "search.as.phone_suffix": ("the last digits of a phone number", "les derniers chiffres d'un numéro"),
    "search.as.reference": (
        "a provider reference or Idempotency-Key",
        "une référence du prestataire ou une Idempotency-Key",
    ),
    "search.as.amount": ("an amount", "un montant"),
    "search.kind.collections": ("Collections ({count})", "Encaissements ({count})"),
    "search.kind.payouts": ("Payouts ({count})", "Décaissements ({count})"),
    "search.kind.holds": ("Holds ({count})", "Réservations ({count})"),
    "search.kind.parties": ("Parties ({count})", "Parties ({count})"),
    "search.kind.wallets": ("Wallets ({count})", "Portefeuilles ({count})"),
    "search.kind.webhook_events": ("Webhook events ({count})", "Événements webhook ({count})"),
    "search.kind.escrows": ("Escrows ({count})", "Séquestres ({count})"),
    "search.kind.proofs": ("Proofs of delivery ({count})", "Preuves de livraison ({count})"),
    "search.kind.mandates": ("Mandates ({count})", "Mandats ({count})"),
    "search.kind.transfers": ("Transfers between parties ({count})", "Transferts entre parties ({count})"),
    "search.more": (
        "The {shown} newest are shown: narrow the search with an amount or dates.",
        "Les {shown} plus récents sont affichés : précisez avec un montant ou des dates.",
    ),
    "search.party": ("party", "partie"),
    "search.nothing": ("Nothing found.", "Aucun résultat."),
    "search.invalid": (
        "Type an id, a phone number, an email or a reference (at most 200 characters), or an amount; "
        "the start date must not be after the end date.",
        "Saisissez un identifiant, un numéro, un e-mail ou une référence (200 caractères au plus), ou un montant ; "
        "la date de début ne doit pas suivre celle de fin.",
    ),
    "search.invalid_amount": (
        "The amount must be a whole number of the currency's minor unit, above zero.",
        "Le montant doit être un nombre entier de l'unité mineure de la devise, supérieur à zéro.",
    ),
    "search.invalid_date": ("Dates are written YYYY-MM-DD.", "Les dates s'écrivent AAAA-MM-JJ."),
    # States
    "status.received": ("waiting", "en attente"),
    "status.processed": ("processed", "traités"),
    "status.ignored": ("ignored", "ignorés"),
    "status.unmatched": ("unmatched", "sans correspondance"),
    "status.rejected": ("rejected", "rejetés"),
    "status.failed": ("failed", "en échec"),
    "status.initiated": ("initiated", "initié"),
    "status.action_required": ("action required", "action requise"),
    "status.processing": ("processing", "en cours"),
    "status.succeeded": ("succeeded", "réussi"),
    "status.amount_mismatch": ("amount mismatch", "montant différent"),
    "status.reversed": ("reversed", "annulé"),
    "status.open": ("open", "ouverte"),
    "status.acknowledged": ("acknowledged", "acquittée"),
    "status.captured": ("captured", "capturée"),
    "status.released": ("released", "libérée"),
    "status.expired": ("expired", "expirée"),
    "status.active": ("active", "active"),
    "status.suspended": ("suspended", "suspendue"),
    **CHECK_MESSAGES,
    **PAGE_MESSAGES,
}

_MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
}
_THOUSANDS = {"en": ",", "fr": "\u202f"}
"""French groups digits with a narrow no-break space, as its typography asks."""
_DECIMAL = {"en": ".", "fr": ","}
_DURATION_UNITS = {"en": ("d", "h", "min", "s"), "fr": ("j", "h", "min", "s")}


def choose(*, query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in."""
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return explicit
    return _from_accept_language(accept_language or "")


def _from_accept_language(header: str) -> str:
    """The supported language the browser prefers most (``fr-FR;q=0.9`` counts as ``fr``)."""
    best, best_quality = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        # Earlier tags win ties, as the header lists them in order of preference.
        quality -= position * 1e-6
        if language in LANGUAGES and quality > best_quality:
            best, best_quality = language, quality
    return best


def translator(language: str) -> Callable[..., str]:
    index = LANGUAGES.index(language)

    def translate(key: str, **values: Any) -> str:
        text = MESSAGES[key][index]
        return text.format(**values) if values else text

    return translate


def number(value: int, language: str) -> str:
    return f"{value:,}".replace(",", _THOUSANDS[language])


def amount(amount_minor: int, currency: str, language: str) -> str:
    """``1,250,000 XOF``, ``12.50 EUR``; in French ``1 250 000 XOF``, ``12,50 EUR``."""
    return f"{major_units(amount_minor, currency, language)} {currency}"


def major_units(amount_minor: int, currency: str, language: str) -> str:
    """The amount in the currency's major unit without its code: ``12.50`` / ``12,50`` for 1250 EUR."""
    places = money.CURRENCY_EXPONENTS.get(currency, 0)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**places)
    text = number(whole, language)
    if places:
        text += _DECIMAL[language] + str(fraction).rjust(places, "0")
    return sign + text


def day(value: date, language: str) -> str:
    """``Nov 21`` / ``21 nov.``"""
    month = _MONTHS[language][value.month - 1]
    return f"{month} {value.day}" if language == "en" else f"{value.day} {month}"


def timestamp(value: datetime) -> str:
    """An instant in UTC, written the same in both languages: operators compare it with logs."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float, language: str) -> str:
    """The two largest units: ``3 d 4 h``, ``2 h 5 min``, ``45 s`` (``3 j 4 h`` in French)."""
    days_unit, hours_unit, minutes_unit, seconds_unit = _DURATION_UNITS[language]
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, days_unit), (hours, hours_unit), (minutes, minutes_unit), (secs, seconds_unit)]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    shown = parts[:2]
    if len(shown) == 2 and shown[1][0] == 0:
        shown = shown[:1]
    return " ".join(f"{value} {unit}" for value, unit in shown)


class Formatter:
    """The formatting functions bound to one language, for the templates."""

    def __init__(self, language: str) -> None:
        self.language = language

    def number(self, value: int) -> str:
        return number(value, self.language)

    def amount(self, amount_minor: int, currency: str) -> str:
        return amount(amount_minor, currency, self.language)

    def major_units(self, amount_minor: int, currency: str) -> str:
        return major_units(amount_minor, currency, self.language)

    def day(self, value: date) -> str:
        return day(value, self.language)

    def timestamp(self, value: datetime) -> str:
        return timestamp(value)

    def duration(self, seconds: float) -> str:
        return duration(seconds, self.language)
