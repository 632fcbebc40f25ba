"""Outgoing HTTP to addresses users typed in (webhooks, callbacks), guarded against SSRF.

A URL is allowed only when every address its host resolves to lies outside the blocked
networks below; the request then connects to one of exactly those checked addresses, so a
second DNS answer (rebinding) cannot redirect it. Redirects are never followed. The
resolver is injectable: tests point a test hostname at a loopback receiver and allow that
one address explicitly (``allowed_networks``), production resolves through the system.

Why an explicit list and not only ``ipaddress``'s ``is_private`` & co.: those flags changed
between Python versions and do not cover IPv4 embedded in IPv6 (mapped, compatible, NAT64,
6to4), which would reach 127.0.0.1 or 169.254.169.254 under another spelling.
"""

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from ablage.errors import ApplicationError

BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        # IPv4
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches localhost on Linux
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes 255.255.255.255
        # IPv6
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::ffff:0:0/96",  # IPv4-mapped
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4 (embeds an IPv4 address)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)

Resolver = Callable[[str, int], Iterable[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver returns for ``host`` (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class UnsafeURL(ApplicationError):
    """A URL that must not be called: wrong scheme or port, or a host in a blocked network."""

    def __init__(self, message: str):
        super().__init__(message, code="unsafe_url")


def address_blocked(address: str, *, allowed_networks=()) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is no part of the address
    if any(ip in network for network in allowed_networks if network.version == ip.version):
        return False
    if any(ip in network for network in BLOCKED_NETWORKS if network.version == ip.version):
        return True
    # Belt and braces: anything Python itself knows as non-global.
    return not ip.is_global or ip.is_multicast


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, with the addresses it may connect to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class UrlGuard:
    resolver: Resolver = system_resolver
    allowed_ports: frozenset[int] = frozenset({80, 443})
    allowed_networks: tuple = field(default_factory=tuple)

    def check(self, url: str) -> CheckedURL:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UnsafeURL(_("Die Adresse ist keine gültige URL.")) from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UnsafeURL(_("Nur http- und https-Adressen sind erlaubt."))
        if parts.username or parts.password:
            raise UnsafeURL(_("Zugangsdaten in der Adresse sind nicht erlaubt."))
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise UnsafeURL(_("Die Adresse enthält keinen Rechnernamen."))
        port = port or (443 if scheme == "https" else 80)
        if port not in self.allowed_ports:
            raise UnsafeURL(
                _("Port %(port)s ist nicht erlaubt (erlaubt: %(allowed)s).")
                % {"port": port, "allowed": ", ".join(map(str, sorted(self.allowed_ports)))}
            )
        try:
            # A literal address ("127.1", "2130706433" and other inet_aton spellings included)
            # goes through the resolver too, which normalises it exactly as connect() would.
            addresses = tuple(self.resolver(host, port))
        except (OSError, UnicodeError):
            raise UnsafeURL(_("Der Rechnername „%(host)s“ lässt sich nicht auflösen.") % {"host": host}) from None
        if not addresses:
            raise UnsafeURL(_("Der Rechnername „%(host)s“ lässt sich nicht auflösen.") % {"host": host})
        for address in addresses:
            try:
                blocked = address_blocked(address, allowed_networks=self.allowed_networks)
            except ValueError:
                blocked = True
            if blocked:
                raise UnsafeURL(
                    _("„%(host)s“ zeigt auf eine interne Adresse (%(address)s); das ist nicht erlaubt.")
                    % {"host": host, "address": address}
                )
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return CheckedURL(scheme=scheme, host=host, port=port, path=path, addresses=addresses)


def default_guard() -> UrlGuard:
    """The guard configured in settings (``ABLAGE_OUTGOING_ALLOWED_PORTS`` / ``..._NETWORKS``)."""
    return UrlGuard(
        resolver=system_resolver,
        allowed_ports=frozenset(settings.ABLAGE_OUTGOING_ALLOWED_PORTS),
        allowed_networks=tuple(ipaddress.ip_network(n) for n in settings.ABLAGE_OUTGOING_ALLOWED_NETWORKS),
    )


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str = ""


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a fixed IP address, with SNI and certificate check against the URL's host name."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_hostname = server_hostname

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


def post_json(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    timeout: float = 5.0,
    guard: UrlGuard | None = None,
    max_bytes: int = 64 * 1024,
) -> Response:
    """POST ``body`` to ``url`` after the SSRF check, connecting only to a checked address.

    Raises ``UnsafeURL`` for a refused address and ``OSError`` (timeouts included) for network
    errors. A redirect is returned as it is, never followed.
    """
    target = (guard or default_guard()).check(url)
    last_error: OSError | None = None
    for address in target.addresses:
        if target.scheme == "https":
            connection = _PinnedHTTPSConnection(address, target.port, server_hostname=target.host, timeout=timeout)
        else:
            connection = http.client.HTTPConnection(address, target.port, timeout=timeout)
        try:
            default_port = 443 if target.scheme == "https" else 80
            host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
            if ":" in target.host:
                host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
            connection.request(
                "POST",
                target.path,
                body=body,
                headers={"Host": host_header, "Content-Type": "application/json", **headers},
            )
            reply = connection.getresponse()
            # Enough of the answer for the delivery log; a receiver streaming megabytes gets cut off.
            content = reply.read(max_bytes)
            return Response(status=reply.status, body=content, location=reply.getheader("Location", ""))
        except ConnectionRefusedError as exc:
            last_error = exc  # try the next checked address of the same host
        finally:
            connection.close()
    raise last_error or OSError("no address to connect to")
