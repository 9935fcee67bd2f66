"""Reading providers' webhook bodies: the right reference and status, the
amount converted from each provider's wire unit (a 100× error would be
caught either way), stable event ids, and refusals of what is not an event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sika.providers import errors
from sika.providers.base import CollectionStatus, PayoutStatus, ProviderName
from sika.providers.events import EventSubject, MalformedEvent, parse


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def paystack_charge(amount: int, *, currency: str = "XOF", reference: str = "col_abc") -> dict[str, Any]:
    return {
        "event": "charge.success",
        "data": {"id": 4000007, "reference": reference, "amount": amount, "currency": currency, "status": "success"},
    }


class TestPaystack:
    def test_a_charge_success_names_our_collection_and_counts_xof_in_hundredths(self) -> None:
        event = parse(ProviderName.paystack, body(paystack_charge(500_000)))
        assert event.subject is EventSubject.collection
        assert (event.reference, event.provider_reference) == ("col_abc", "col_abc")
        assert event.collection_status is CollectionStatus.succeeded
        assert (event.amount_minor, event.currency) == (5_000, "XOF")
        assert event.event_id == "charge.success:4000007"

    def test_ghs_is_in_pesewas_on_both_sides(self) -> None:
        event = parse(ProviderName.paystack, body(paystack_charge(12_345, currency="GHS")))
        assert (event.amount_minor, event.currency) == (12_345, "GHS")

    def test_a_wire_amount_that_is_not_whole_francs_is_refused(self) -> None:
        with pytest.raises(errors.WireAmountNotWhole):
            parse(ProviderName.paystack, body(paystack_charge(500_050)))

    @pytest.mark.parametrize(
        ("name", "status"),
        [
            ("transfer.success", PayoutStatus.succeeded),
            ("transfer.failed", PayoutStatus.failed),
            ("transfer.reversed", PayoutStatus.reversed),
        ],
    )
    def test_transfer_events_name_our_payout(self, name: str, status: PayoutStatus) -> None:
        payload = {
            "event": name,
            "data": {
                "id": 81,
                "reference": "po_xyz",
                "transfer_code": "TRF_1",
                "amount": 400_000,
                "currency": "XOF",
                "failures": "wallet closed" if status is PayoutStatus.failed else None,
            },
        }
        event = parse(ProviderName.paystack, body(payload))
        assert (event.subject, event.reference, event.provider_reference) == (EventSubject.payout, "po_xyz", "TRF_1")
        assert (event.payout_status, event.amount_minor, event.event_id) == (status, 4_000, f"{name}:81")
        assert event.failure_reason == ("wallet closed" if status is PayoutStatus.failed else None)

    def test_an_event_sika_does_not_act_on_is_read_without_a_subject(self) -> None:
        event = parse(ProviderName.paystack, body({"event": "customeridentification.success", "data": {"id": 3}}))
        assert (event.subject, event.event_type, event.event_id) == (
            None,
            "customeridentification.success",
            "customeridentification.success:3",
        )

    def test_a_success_without_an_amount_is_malformed(self) -> None:
        payload = {"event": "charge.success", "data": {"id": 1, "reference": "col_abc", "currency": "XOF"}}
        with pytest.raises(MalformedEvent):
            parse(ProviderName.paystack, body(payload))

    @pytest.mark.parametrize("raw", [b"not json", b"[1, 2]"])
    def test_a_body_that_is_not_a_json_object_is_malformed(self, raw: bytes) -> None:
        with pytest.raises(MalformedEvent):
            parse(ProviderName.paystack, raw)


class TestFedapay:
    def test_an_approved_transaction_counts_xof_in_francs(self) -> None:
        payload = {
            "id": 991,
            "name": "transaction.approved",
            "entity": {
                "id": 4000002,
                "amount": 5_000,
                "currency": {"iso": "XOF"},
                "merchant_reference": "col_abc",
                "status": "approved",
            },
        }
        event = parse(ProviderName.fedapay, body(payload))
        assert (event.reference, event.provider_reference, event.event_id) == ("col_abc", "4000002", "991")
        assert (event.collection_status, event.amount_minor, event.currency) == (
            CollectionStatus.succeeded,
            5_000,
            "XOF",
        )

    def test_a_declined_transaction_says_why(self) -> None:
        payload = {
            "id": 992,
            "name": "transaction.declined",
            "entity": {
                "id": 5,
                "amount": 5_000,
                "currency": {"iso": "XOF"},
                "merchant_reference": "col_abc",
                "last_error_code": "INSUFFICIENT_FUND",
            },
        }
        event = parse(ProviderName.fedapay, body(payload))
        assert (event.collection_status, event.failure_reason) == (CollectionStatus.failed, "INSUFFICIENT_FUND")

    def test_a_fractional_amount_is_refused_not_truncated_to_the_collection_s(self) -> None:
        payload = {
            "id": 994,
            "name": "transaction.approved",
            "entity": {"id": 7, "amount": 5_000.4, "currency": {"iso": "XOF"}, "merchant_reference": "col_abc"},
        }
        with pytest.raises(errors.WireAmountNotWhole):
            parse(ProviderName.fedapay, body(payload))

    @pytest.mark.parametrize(
        ("name", "status", "reason"),
        [("payout.sent", PayoutStatus.succeeded, None), ("payout.failed", PayoutStatus.failed, "ACCOUNT_CLOSED")],
    )
    def test_payout_events_name_our_payout(self, name: str, status: PayoutStatus, reason: str | None) -> None:
        payload = {
            "id": 996,
            "name": name,
            "entity": {
                "id": 9,
                "amount": 4_000,
                "currency": {"iso": "XOF"},
                "merchant_reference": "po_xyz",
                "last_error_code": "ACCOUNT_CLOSED",
            },
        }
        event = parse(ProviderName.fedapay, body(payload))
        assert (event.subject, event.reference, event.provider_reference) == (EventSubject.payout, "po_xyz", "9")
        assert (event.payout_status, event.collection_status) == (status, None)
        assert (event.amount_minor, event.failure_reason) == (4_000, reason)

    def test_a_transaction_without_our_reference_has_none(self) -> None:
        payload = {
            "id": 993,
            "name": "transaction.approved",
            "entity": {"id": 6, "amount": 10, "currency": {"iso": "XOF"}},
        }
        assert parse(ProviderName.fedapay, body(payload)).reference is None


class TestStripe:
    def intent_event(self, **intent: Any) -> dict[str, Any]:
        base = {
            "id": "pi_1",
            "amount": 5_000,
            "amount_received": 5_000,
            "currency": "xof",
            "metadata": {"sika_reference": "col_abc"},
            "last_payment_error": None,
        }
        return {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {**base, **intent}}}

    def test_a_succeeded_intent_counts_what_was_received(self) -> None:
        event = parse(ProviderName.stripe, body(self.intent_event(amount_received=4_999)))
        assert (event.reference, event.provider_reference, event.event_id) == ("col_abc", "pi_1", "evt_1")
        assert (event.amount_minor, event.currency) == (4_999, "XOF")

    def test_euros_are_in_cents(self) -> None:
        event = parse(ProviderName.stripe, body(self.intent_event(amount=1_234, amount_received=1_234, currency="eur")))
        assert (event.amount_minor, event.currency) == (1_234, "EUR")

    def test_metadata_sent_as_null_means_no_reference(self) -> None:
        assert parse(ProviderName.stripe, body(self.intent_event(metadata=None))).reference is None


class TestTextPostgresqlCannotStore:
    """What Sika matches exactly cannot be stored, so cannot be about anything of
    Sika's; a failure reason is prose, kept readable. (Intake keeps the raw body,
    as bytes, either way.)"""

    @pytest.mark.parametrize("bad", ["\x00", "\ud800"])
    @pytest.mark.parametrize(
        ("provider", "payload"),
        [
            (ProviderName.paystack, paystack_charge(500_000, reference="col_a{bad}")),
            (ProviderName.paystack, {"event": "customeridentification.success{bad}", "data": {"id": 3}}),
            (ProviderName.fedapay, {"id": "99{bad}", "name": "customer.created", "entity": {}}),
            (ProviderName.stripe, {"id": "evt_{bad}", "type": "charge.refunded"}),
        ],
    )
    def test_an_id_type_or_reference_that_cannot_be_stored_is_malformed(
        self, provider: ProviderName, payload: dict[str, Any], bad: str
    ) -> None:
        raw = body(payload).replace(b"{bad}", json.dumps(bad)[1:-1].encode())
        with pytest.raises(MalformedEvent, match="which cannot be stored"):
            parse(provider, raw)

    def test_a_failure_reason_keeps_its_readable_text(self) -> None:
        payload = {
            "event": "transfer.failed",
            "data": {"id": 81, "reference": "po_xyz", "amount": 400_000, "currency": "XOF", "failures": "no\x00\ud800"},
        }
        event = parse(ProviderName.paystack, body(payload))
        assert (event.payout_status, event.failure_reason) == (PayoutStatus.failed, "no\ufffd\ufffd")
