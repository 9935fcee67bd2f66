"""Search for support staff: find a party, wallet, collection, payout, hold or
received webhook event by what a customer or an integrator knows (an id Sika
issued, a phone number or its last digits, an email, the provider's reference,
the Idempotency-Key of the request that made it, an amount in a date window),
and read a collection's story (its timeline: state changes with their cause,
webhooks, ledger transfers, alerts and audit rows, in order).

It owns no table: it reads the other domains' rows through the request's
session, so a session bound to a platform (``sika.core.tenancy``) finds that
platform's objects only. docs/support.md says how a query is read."""
