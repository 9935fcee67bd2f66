"""Party tokens on their own: claims, lifetime limits, expiry, issue time and key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from sika.auth import party_tokens
from sika.core.config import Environment, Settings

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
KEY_1 = "k1-secret-that-is-at-least-32-bytes-long"
KEY_2 = "k2-secret-that-is-at-least-32-bytes-long"
MINTER = "key_platform"


def settings_with(keys: dict[str, str], active: str) -> Settings:
    return Settings(
        ENV=Environment.test,
        PARTY_TOKEN_KEYS={kid: SecretStr(value) for kid, value in keys.items()},
        PARTY_TOKEN_ACTIVE_KID=active,
    )


class TestMint:
    def test_carries_issuer_audience_subject_expiry_and_id(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        minted = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=600, now=NOW
        )
        header = jwt.get_unverified_header(minted.token)
        claims = jwt.decode(
            minted.token,
            KEY_1,
            algorithms=["HS256"],
            audience="sika-party",
            options={"verify_exp": False, "verify_iat": False},
        )
        assert header == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
        assert claims == {
            "iss": "sika",
            "aud": "sika-party",
            "sub": "pty_a",
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + 600,
            "jti": minted.token_id,
            "minted_by": MINTER,
            "plt": "plt_default",
        }
        assert minted.expires_at == NOW + timedelta(seconds=600)

    def test_issued_at_carries_milliseconds_and_expiry_whole_seconds(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        now = NOW + timedelta(microseconds=123_456)
        minted = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=600, now=now
        )
        claims = jwt.decode(minted.token, options={"verify_signature": False})
        assert claims["iat"] == NOW.timestamp() + 0.123
        assert claims["exp"] == int(NOW.timestamp()) + 600
        verified = party_tokens.verify(settings, token=minted.token, now=now)
        assert verified.issued_at == NOW + timedelta(milliseconds=123)
        assert verified.expires_at == minted.expires_at == NOW + timedelta(seconds=600)

    def test_defaults_to_the_longest_lifetime_allowed(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        minted = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=None, now=NOW
        )
        assert minted.expires_at == NOW + timedelta(seconds=3600)

    def test_refuses_a_lifetime_over_the_maximum(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        with pytest.raises(party_tokens.TokenLifetimeTooLong):
            party_tokens.mint(
                settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=3601, now=NOW
            )

    def test_each_token_has_its_own_id(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        first = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        )
        second = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        )
        assert first.token_id != second.token_id


class TestVerify:
    def test_accepts_a_live_token(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        minted = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        )
        claims = party_tokens.verify(settings, token=minted.token, now=NOW + timedelta(seconds=59))
        assert claims == party_tokens.PartyClaims(
            party_id="pty_a",
            token_id=minted.token_id,
            key_id="k1",
            minted_by=MINTER,
            platform_id="plt_default",
            issued_at=NOW,
            expires_at=NOW + timedelta(seconds=60),
        )

    def test_refuses_an_expired_token(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        minted = party_tokens.mint(
            settings, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        )
        with pytest.raises(party_tokens.InvalidPartyToken, match="expired"):
            party_tokens.verify(settings, token=minted.token, now=NOW + timedelta(seconds=60))

    def test_old_key_still_verifies_after_rotation_and_new_key_signs(self) -> None:
        before = settings_with({"k1": KEY_1}, "k1")
        old_token = party_tokens.mint(
            before, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        ).token
        after = settings_with({"k1": KEY_1, "k2": KEY_2}, "k2")
        new_token = party_tokens.mint(
            after, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        ).token
        assert party_tokens.verify(after, token=old_token, now=NOW).key_id == "k1"
        assert party_tokens.verify(after, token=new_token, now=NOW).key_id == "k2"

    def test_refuses_a_token_whose_key_was_retired(self) -> None:
        before = settings_with({"k1": KEY_1}, "k1")
        token = party_tokens.mint(
            before, party_id="pty_a", platform_id="plt_default", minted_by=MINTER, lifetime_seconds=60, now=NOW
        ).token
        retired = settings_with({"k2": KEY_2}, "k2")
        with pytest.raises(party_tokens.InvalidPartyToken, match="unknown key"):
            party_tokens.verify(retired, token=token, now=NOW)

    def test_refuses_a_forged_signature(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        forged = jwt.encode(
            {
                "iss": "sika",
                "aud": "sika-party",
                "sub": "pty_a",
                "iat": 1,
                "exp": 2**33,
                "jti": "x",
                "minted_by": MINTER,
            },
            "someone-else-s-key-of-32-bytes-at-least",
            algorithm="HS256",
            headers={"kid": "k1"},
        )
        with pytest.raises(party_tokens.InvalidPartyToken):
            party_tokens.verify(settings, token=forged, now=NOW)

    @pytest.mark.parametrize(
        ("claim", "value"),
        [
            ("iss", "elsewhere"),
            ("aud", "other-audience"),
            ("jti", None),
            ("sub", None),
            ("iat", None),
            ("minted_by", None),
            ("minted_by", ""),
            ("iat", "yesterday"),
            ("exp", 1.5e9),
            ("iat", True),
        ],
    )
    def test_refuses_wrong_or_missing_claims(self, claim: str, value: object) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        claims: dict[str, object] = {
            "iss": "sika",
            "aud": "sika-party",
            "sub": "pty_a",
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + 60,
            "jti": "abc",
            "minted_by": MINTER,
        }
        if value is None:
            del claims[claim]
        else:
            claims[claim] = value
        token = jwt.encode(claims, KEY_1, algorithm="HS256", headers={"kid": "k1"})
        with pytest.raises(party_tokens.InvalidPartyToken):
            party_tokens.verify(settings, token=token, now=NOW)

    def test_refuses_the_none_algorithm(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        claims = {
            "iss": "sika",
            "aud": "sika-party",
            "sub": "pty_a",
            "iat": 1,
            "exp": 2**33,
            "jti": "x",
            "minted_by": MINTER,
        }
        unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"})
        with pytest.raises(party_tokens.InvalidPartyToken):
            party_tokens.verify(settings, token=unsigned, now=NOW)


def signed_claims(**overrides: object) -> str:
    """A token signed with the right key, its claims as given: what a holder of a leaked
    signing key, or a bug in a minter, could produce."""
    claims: dict[str, object] = {
        "iss": "sika",
        "aud": "sika-party",
        "sub": "pty_a",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
        "jti": "abc",
        "minted_by": MINTER,
        **overrides,
    }
    return jwt.encode(claims, KEY_1, algorithm="HS256", headers={"kid": "k1"})


class TestVerifyTimes:
    def test_refuses_an_issue_time_in_the_future(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        ahead = party_tokens.ISSUED_AT_LEEWAY_SECONDS + 1
        token = signed_claims(iat=int(NOW.timestamp()) + ahead, exp=int(NOW.timestamp()) + ahead + 60)
        with pytest.raises(party_tokens.InvalidPartyToken, match="issued in the future"):
            party_tokens.verify(settings, token=token, now=NOW)

    def test_tolerates_clock_drift_within_the_leeway(self) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        ahead = party_tokens.ISSUED_AT_LEEWAY_SECONDS
        token = signed_claims(iat=int(NOW.timestamp()) + ahead, exp=int(NOW.timestamp()) + ahead + 60)
        assert party_tokens.verify(settings, token=token, now=NOW).party_id == "pty_a"

    @pytest.mark.parametrize("lifetime", [3601, 10 * 365 * 24 * 3600])
    def test_refuses_a_lifetime_over_the_maximum(self, lifetime: int) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        token = signed_claims(exp=int(NOW.timestamp()) + lifetime)
        with pytest.raises(party_tokens.InvalidPartyToken, match="longer than 3600 seconds"):
            party_tokens.verify(settings, token=token, now=NOW)

    def test_the_maximum_is_the_configured_one(self) -> None:
        token = signed_claims(exp=int(NOW.timestamp()) + 3600)
        assert party_tokens.verify(settings_with({"k1": KEY_1}, "k1"), token=token, now=NOW).party_id == "pty_a"
        shorter = settings_with({"k1": KEY_1}, "k1").model_copy(update={"PARTY_TOKEN_MAX_SECONDS": 600})
        with pytest.raises(party_tokens.InvalidPartyToken, match="longer than 600 seconds"):
            party_tokens.verify(shorter, token=token, now=NOW)

    @pytest.mark.parametrize("exp", [2**62, float("inf")])
    def test_refuses_an_expiry_beyond_any_calendar(self, exp: float) -> None:
        settings = settings_with({"k1": KEY_1}, "k1")
        with pytest.raises(party_tokens.InvalidPartyToken):
            party_tokens.verify(settings, token=signed_claims(exp=exp), now=NOW)
