"""registry: adapters from settings, which providers may take new purchases, startup refusal."""

from __future__ import annotations

import copy

import pytest
from django.conf import settings
from django.test import override_settings

from config.startup import integration_problems
from vtu.providers import registry
from vtu.providers.amigo import AmigoProvider
from vtu.providers.base import ProviderNotConfigured
from vtu.providers.clubkonnect import ClubKonnectProvider
from vtu.providers.vtpass import VTpassProvider


def providers_with(**changes: dict) -> dict:
    entries = copy.deepcopy(settings.VTU_PROVIDERS)
    for name, values in changes.items():
        entries[name].update(values)
    return entries


def test_every_registered_adapter_has_a_settings_entry_and_builds():
    assert set(registry.ADAPTERS) <= set(settings.VTU_PROVIDERS)
    classes = {name: type(registry.get_provider(name)) for name in ("amigo", "vtpass", "clubkonnect")}
    assert classes == {"amigo": AmigoProvider, "vtpass": VTpassProvider, "clubkonnect": ClubKonnectProvider}
    assert all(registry.is_registered(name) for name in registry.ADAPTERS) and not registry.is_registered("nope")


def test_unknown_provider_is_refused():
    with pytest.raises(ProviderNotConfigured):
        registry.get_provider("nope")


def test_enabled_providers_follow_settings():
    entries = providers_with(amigo={"ENABLED": True, "API_KEY": "k"}, vtpass={"ENABLED": False}, sandbox={"ENABLED": True})
    with override_settings(VTU_PROVIDERS=entries):
        assert registry.enabled_providers() == ["amigo", "sandbox"]
        # a switched-off provider is still built: its old attempts must be requeried
        assert isinstance(registry.get_provider("vtpass"), VTpassProvider)


def test_the_base_url_from_settings_is_used():
    entries = providers_with(amigo={"BASE_URL": "http://127.0.0.1:9/api"})
    with override_settings(VTU_PROVIDERS=entries):
        assert registry.get_provider("amigo").config["BASE_URL"] == "http://127.0.0.1:9/api"


def test_startup_refuses_an_enabled_sandbox_provider_with_debug_off():
    with override_settings(DEBUG=False, VTU_PROVIDERS=providers_with(sandbox={"ENABLED": True})):
        assert any("VTU_PROVIDERS[sandbox] is a sandbox" in problem for problem in integration_problems())
