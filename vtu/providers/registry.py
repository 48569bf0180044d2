"""Provider adapters by name, configured from settings.VTU_PROVIDERS.

Adding a vendor: write vtu/providers/<vendor>.py, add its settings entry (config/settings.py,
.env.example) and one line to ADAPTERS. Adapters are imported lazily, so a broken optional
adapter cannot stop the rest of the platform from starting.
"""

from __future__ import annotations

import importlib

from django.conf import settings

from vtu.providers.base import CallSink, Clock, Provider, ProviderNotConfigured

ADAPTERS: dict[str, str] = {
    "amigo": "vtu.providers.amigo.AmigoProvider",
    "vtpass": "vtu.providers.vtpass.VTpassProvider",
    "clubkonnect": "vtu.providers.clubkonnect.ClubKonnectProvider",
    "sandbox": "vtu.providers.sandbox.SandboxProvider",
}


def is_registered(name: str) -> bool:
    return name in ADAPTERS


def adapter_class(name: str) -> type[Provider]:
    try:
        module_path, class_name = ADAPTERS[name].rsplit(".", 1)
    except KeyError as exc:
        raise ProviderNotConfigured(f"no provider adapter named {name!r}") from exc
    return getattr(importlib.import_module(module_path), class_name)


def get_provider(name: str, *, on_call: CallSink | None = None, clock: Clock | None = None) -> Provider:
    """An adapter configured from settings.VTU_PROVIDERS[name].

    A provider that is switched off is still returned: a purchase sent to it last week must
    still be requeried. Routing decides where new purchases go, from `enabled_providers()`.
    Raises ProviderNotConfigured for an unknown name or a missing settings entry."""
    config = settings.VTU_PROVIDERS.get(name)
    if config is None:
        raise ProviderNotConfigured(f"settings.VTU_PROVIDERS has no entry {name!r}")
    return adapter_class(name)(config, on_call=on_call, clock=clock)


def enabled_providers() -> list[str]:
    """Names of the providers that may take new purchases: registered and ENABLED (settings
    derive ENABLED from the credentials being present; a sandbox only in DEBUG)."""
    return [name for name, entry in settings.VTU_PROVIDERS.items() if entry.get("ENABLED") and name in ADAPTERS]
