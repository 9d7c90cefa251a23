"""The visitor's IP address as the site keeps it: truncated unless the setting says otherwise."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from flask import current_app, request


def client_ip() -> str | None:
    """The visitor's address, truncated to /24 or /48 unless the setting says full."""
    return stored_ip(request.remote_addr, current_app.config["IP_STORAGE"])


@lru_cache(maxsize=4096)  # visitors come back: parsing the address is a third of a cached page's cost
def stored_ip(raw: str | None, storage: str) -> str | None:
    """``raw`` as the site keeps it: whole when ``storage`` is "full", else its /24 or /48."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if storage == "full":
        return str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
