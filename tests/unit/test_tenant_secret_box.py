"""Credentials sealed with Fernet keys from the environment: key rotation, and nothing leaks."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.core.settings import Settings
from services.tenants.secret_box import (
    SecretBox,
    SecretKeyInvalid,
    SecretKeysMissing,
    SecretsUnreadable,
    key_id,
)

SECRETS = {"tripletex": {"consumer_token": "consumer-s3cr3t", "employee_token": "employee-s3cr3t"}}


def test_sealed_secrets_open_again_and_are_not_plain() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    token = box.seal(SECRETS, tenant_id="acme")
    assert b"s3cr3t" not in token
    assert box.open(token, tenant_id="acme") == SECRETS


def test_first_key_seals_every_key_opens_and_reseal_moves_to_the_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_with_old = SecretBox([old]).seal(SECRETS, tenant_id="acme")
    both = SecretBox([new, old])
    assert both.key_id == key_id(new)
    assert both.open(sealed_with_old, tenant_id="acme") == SECRETS
    resealed = both.reseal(sealed_with_old, tenant_id="acme")
    assert SecretBox([new]).open(resealed, tenant_id="acme") == SECRETS
    with pytest.raises(SecretsUnreadable) as caught:
        SecretBox([old]).open(resealed, tenant_id="acme")
    assert "acme" in str(caught.value)
    assert old not in str(caught.value) and new not in str(caught.value)


def test_keys_come_from_settings_comma_separated() -> None:
    a, b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    box = SecretBox.from_settings(Settings(tenant_secret_keys=SecretStr(f"{a}, {b}")))
    assert box.key_ids == (key_id(a), key_id(b))
    assert a not in repr(box) and b not in repr(box)
    with pytest.raises(SecretKeysMissing):
        SecretBox.from_settings(Settings(tenant_secret_keys=None))


def test_a_malformed_key_is_named_by_position_not_value() -> None:
    with pytest.raises(SecretKeyInvalid) as caught:
        SecretBox([Fernet.generate_key().decode(), "not-a-key-but-secret"])
    assert "entry 2" in str(caught.value)
    assert "not-a-key-but-secret" not in str(caught.value)


def test_settings_never_show_the_keys() -> None:
    key = Fernet.generate_key().decode()
    settings = Settings(tenant_secret_keys=SecretStr(key))
    assert key not in repr(settings) and key not in str(settings.model_dump())


def test_a_blob_opens_only_for_the_tenant_it_was_sealed_for() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    acme = box.seal(SECRETS, tenant_id="acme")
    assert box.unseal(acme, tenant_id="acme") == (SECRETS, True)
    with pytest.raises(SecretsUnreadable, match="sealed for another tenant") as caught:
        box.open(acme, tenant_id="globex")
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(SecretsUnreadable):
        box.reseal(acme, tenant_id="globex")


def test_a_blob_sealed_before_binding_still_opens_and_reseals_bound() -> None:
    key = Fernet.generate_key().decode()
    legacy = Fernet(key.encode()).encrypt(json.dumps(SECRETS, sort_keys=True).encode())  # the old format
    box = SecretBox([key])
    assert box.unseal(legacy, tenant_id="acme") == (SECRETS, False)
    bound = box.reseal(legacy, tenant_id="acme")
    assert box.unseal(bound, tenant_id="acme") == (SECRETS, True)
    with pytest.raises(SecretsUnreadable):
        box.open(bound, tenant_id="globex")
