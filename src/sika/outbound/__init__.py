"""Outbound webhooks: the events of a platform's objects, signed (Standard
Webhooks) and delivered to the endpoints the platform registered, per object in
``sequence`` order, retried on a schedule, with a delivery log and replay.

The inbound side (providers' webhooks to Sika) is ``sika.webhooks``; this is the
other direction, Sika to the platforms. It reads ``sika.events`` (the outbox
each change writes in its own transaction) and nothing below it knows it."""
