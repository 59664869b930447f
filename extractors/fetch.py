"""Fetching bytes from the open web without being abused by it.

``fetch`` is the one door through which feeds and pages come in. It enforces, for every hop:

* only ``http``/``https`` URLs with a host (``javascript:``, ``data:``, ``file:`` … are refused);
* the SSRF guard: the host is resolved and every address must be public, unless it lies in one of the
  ``allowed_networks`` (a network on every port, or on one port only); the same check runs again inside
  the connection itself (``GuardedBackend``), so a DNS answer that changes between check and connect
  cannot slip through;
* connect / read / total time limits; the total limit bounds every socket read of the request, so a server
  that drips its headers or its body one byte a second stops at the total limit;
* a body cap counted on the *decompressed* stream, decoded here in bounded steps (64 KB of output at a
  time, for each of nested encodings), so gzip and deflate bombs stop at the cap and never fill memory;
* a redirect limit, with loops detected, each hop checked like the first;
* conditional GET (``If-None-Match`` / ``If-Modified-Since``) and ``Retry-After`` on 429/503;
* content types checked before the body is read: pages against an accept-list, feeds against a deny-list
  of what clearly is no feed (feeds are served under every label, so for them the bytes decide).

Download is kept apart from parsing and extraction: those work on the bytes returned here.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from extractors.errors import (
    BlockedAddress,
    BlockedURL,
    ConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RateLimited,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContentType,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)"


class PreferredTypes(tuple[str, ...]):
    """Content types to *ask for* (the Accept header) that do not restrict what is taken.

    Passed as ``fetch(accept=...)`` it fills the Accept header only; a response of any other type still
    comes through, unless it matches ``refuse`` (checked before the body is read). Feeds need this: they
    are served as ``application/x-rss+xml``, ``text/plain``, ``application/octet-stream`` and worse, and
    only their bytes (``extractors.feeds.parse_feed``) can tell a feed from an HTML page or noise. It is a
    tuple so that code treating it as the plain list of types keeps working; note that tuple operations
    (``+``, slicing) return plain tuples, i.e. strict accept-lists: build variants with ``PreferredTypes``.
    """

    refuse: tuple[str, ...]

    def __new__(cls, types: Iterable[str], *, refuse: Iterable[str] = ()) -> PreferredTypes:
        self = super().__new__(cls, tuple(types))
        self.refuse = tuple(refuse)
        return self


# Types (prefixes, lower case) that are clearly no feed: refused before their body is downloaded.
FEED_REFUSED_TYPES = (
    "image/",
    "audio/",
    "video/",
    "font/",
    "model/",
    "application/pdf",
    "application/postscript",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-bzip",  # and x-bzip2
    "application/x-xz",
    "application/zstd",
    "application/x-7z-compressed",
    "application/x-rar",  # and x-rar-compressed
    "application/vnd.rar",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/x-msdownload",
    "application/x-apple-diskimage",
    "application/x-iso9660-image",
    "application/x-shockwave-flash",
    "application/wasm",
    "application/msword",
    "application/vnd.ms-",  # Office formats
    "application/vnd.openxmlformats-",
    "application/vnd.oasis.opendocument.",
)
# What a feed fetch asks for; anything else is still taken unless FEED_REFUSED_TYPES names it. JSON Feed
# is not asked for: feedparser 6 cannot parse it, so a server negotiating content should not pick it.
FEED_CONTENT_TYPES = PreferredTypes(
    ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"),
    refuse=FEED_REFUSED_TYPES,
)
# Pages are an accept-list: the extractor only reads HTML, so anything else is refused unread.
PAGE_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")

# Cloud metadata endpoints are link-local already, but named here so the intent is explicit.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


@dataclass(frozen=True)
class AllowedNetwork:
    """One entry of ``allowed_networks``: a network the SSRF guard opens, on every port or on one.

    A port matters because allowing a host for one service (a local demo site on 127.0.0.1:8765) must not
    open its other services (Elasticsearch on 127.0.0.1:9200) to links found in feeds.
    """

    network: IPNetwork
    port: int | None = None  # None: every port

    def allows(self, ip: IPAddress, port: int | None) -> bool:
        """Whether this entry covers ``ip`` on ``port``; a port-scoped entry never covers an unknown port."""
        if ip.version != self.network.version or ip not in self.network:
            return False
        return self.port is None or self.port == port

    def __str__(self) -> str:
        if self.port is None:
            return str(self.network)
        net = str(self.network)
        return f"[{net}]:{self.port}" if self.network.version == 6 else f"{net}:{self.port}"


# What ``allowed_networks`` may hold: entries from ``parse_networks``, or bare networks (every port), as
# before ports existed.
AllowedEntry: TypeAlias = AllowedNetwork | IPNetwork

_BRACKETED = re.compile(r"\[(?P<net>[^\]]*)\](?::(?P<port>[^:]*))?")


def _parse_network_entry(entry: str) -> AllowedNetwork:
    """One ``CIDR``, ``IP``, ``CIDR:port``, ``IP:port``, ``[IPv6]``, ``[IPv6]:port`` or ``[IPv6/len]:port``.

    An IPv6 network with a port needs brackets: ``fe80::1:8080`` is itself an IPv6 address.
    """
    def invalid(why: str) -> ValueError:
        return ValueError(f"allowed network entry {entry!r}: {why} "
                          "(expected CIDR, IP, CIDR:port, IP:port or [IPv6]:port)")

    bracketed = _BRACKETED.fullmatch(entry)
    port_text: str | None
    if bracketed:
        net_text, port_text = bracketed["net"], bracketed["port"]
    elif entry.startswith("["):
        raise invalid("unbalanced '['")
    elif entry.count(":") == 1:  # IPv4 (or IPv4 CIDR) with a port; IPv6 has at least two colons
        net_text, _, port_text = entry.partition(":")
    else:
        net_text, port_text = entry, None
    try:
        network = ipaddress.ip_network(net_text.strip(), strict=False)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    if port_text is None:
        return AllowedNetwork(network)
    port_text = port_text.strip()
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise invalid(f"port {port_text!r} is not a number from 1 to 65535")
    return AllowedNetwork(network, int(port_text))


def parse_networks(spec: str | Iterable[str] | None) -> tuple[AllowedNetwork, ...]:
    """Parse ``"127.0.0.0/8, 10.1.0.0/16:443, 192.0.2.7:8765, [::1]:8765"`` (or a list) into entries.

    A bare CIDR or IP opens that network on every port (as before ports were supported); with ``:port``
    only that port. Empty means none. An invalid entry raises ``ValueError`` naming it, so a typo in the
    settings stops the run instead of silently opening or closing a network.
    """
    if not spec:
        return ()
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(_parse_network_entry(p.strip()) for p in parts if p.strip())


def _entry_allows(entry: AllowedEntry, ip: IPAddress, port: int | None) -> bool:
    if isinstance(entry, AllowedNetwork):
        return entry.allows(ip, port)
    return entry.version == ip.version and ip in entry


def is_address_allowed(
    address: str | IPAddress, allowed_networks: Iterable[AllowedEntry] = (), *, port: int | None = None
) -> bool:
    """Decide whether newswatch may connect to ``address`` (on ``port``, when the caller knows it).

    Public unicast addresses are allowed. Loopback, private, link-local, CGNAT, multicast, reserved,
    unspecified and cloud-metadata addresses are refused unless an allowed entry covers them: a bare
    network on any port, a port-scoped entry only on its port (so never when ``port`` is None). This is a
    pure function so the policy can be tested on any address without connecting to it.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(_entry_allows(entry, ip, port) for entry in allowed_networks):
        return True
    if ip in METADATA_ADDRESSES:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str) -> tuple[str, str, int]:
    """Refuse anything but absolute http(s) URLs with a host; return (scheme, host, port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BlockedURL(f"refused URL scheme {scheme or '(none)'!r}", url=url)
    if not parts.hostname:
        raise BlockedURL("URL has no host", url=url)
    if parts.username or parts.password:
        raise BlockedURL("URL carries credentials", url=url)
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def resolve_allowed(host: str, port: int, allowed_networks: Sequence[AllowedEntry]) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing the host if any address is not allowed on ``port``.

    Refusing when *any* address is bad (not only all) stops tricks that mix a public and a private record.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not is_address_allowed(address.split("%")[0], allowed_networks, port=port):
            raise BlockedAddress(f"{host} resolves to refused address {address} (port {port})")
    return addresses


_deadline = threading.local()  # monotonic deadline of the fetch running on this thread, if any


def _time_left(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of the current fetch's total time; raises when none is left."""
    deadline: float | None = getattr(_deadline, "value", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total time limit reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write also respects the total time limit of the fetch.

    httpx only has per-read timeouts, so a server sending one header byte every second would never time
    out; bounding each socket operation by the time left closes that gap, headers included.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that connects only to vetted addresses (the guard inside the socket).

    Its streams also enforce the total time limit of the fetch in progress (see ``_DeadlineStream``).
    """

    def __init__(self, allowed_networks: Sequence[AllowedEntry]) -> None:
        self.allowed_networks = tuple(allowed_networks)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_allowed(host, port, self.allowed_networks)
        stream = super().connect_tcp(addresses[0], port, _time_left(timeout), local_address, socket_options)
        return _DeadlineStream(stream)


@dataclass(frozen=True)
class FetchPolicy:
    """Limits applied to every fetch. Defaults suit news feeds and article pages."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    allowed_networks: tuple[AllowedEntry, ...] = ()  # parse_networks() entries, or bare networks


@dataclass
class FetchResult:
    """What a successful fetch returns; ``not_modified`` results have empty ``content``."""

    url: str
    final_url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def make_client(policy: FetchPolicy, *, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """Build the HTTP client ``fetch`` expects: guarded sockets, no env proxies, no auto-redirects.

    Pass ``transport`` (e.g. ``httpx.MockTransport``) to test pure HTTP behaviour without sockets.
    """
    if transport is None:
        guarded = httpx.HTTPTransport(retries=0)
        # httpx has no public hook for the network backend; the pool attribute is stable since 0.18.
        guarded._pool._network_backend = GuardedBackend(policy.allowed_networks)
        transport = guarded
    return httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def fetch(
    client: httpx.Client,
    url: str,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: Sequence[str] | None = None,
    check_addresses: bool = True,
    refuse: Sequence[str] | None = None,
) -> FetchResult:
    """GET ``url`` within ``policy``; return the bytes or raise a ``FetchError`` subclass.

    ``accept`` lists acceptable content types (prefixes) and fills the Accept header; a response of
    another type raises ``UnsupportedContentType`` before its body is read. ``refuse`` lists types
    (prefixes) refused the same way whatever ``accept`` says. A ``PreferredTypes`` ``accept`` (such as
    ``FEED_CONTENT_TYPES``) only fills the Accept header and brings its own ``refuse`` list (used when
    ``refuse`` is None): every type is taken but those. ``check_addresses`` resolves each hop's host and
    applies the SSRF guard up front (the socket-level guard in ``make_client`` applies regardless); tests
    with a mock transport turn it off.
    """
    started = time.monotonic()
    deadline = started + policy.total_timeout
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    if accept:
        headers["Accept"] = ", ".join(accept) + ", */*;q=0.1"
    types = _TypeCheck.of(accept, refuse)
    previous = getattr(_deadline, "value", None)
    _deadline.value = deadline
    try:
        return _follow(client, url, policy, headers, types, deadline, started, check_addresses)
    finally:
        _deadline.value = previous


@dataclass(frozen=True)
class _TypeCheck:
    """The content-type decision of one fetch: an optional accept-list and a deny-list, both prefixes."""

    accept: tuple[str, ...] | None
    refuse: tuple[str, ...]

    @classmethod
    def of(cls, accept: Sequence[str] | None, refuse: Sequence[str] | None) -> _TypeCheck:
        if isinstance(accept, PreferredTypes):
            return cls(None, tuple(refuse if refuse is not None else accept.refuse))
        return cls(tuple(accept) if accept else None, tuple(refuse or ()))

    def check(self, ctype: str, url: str) -> None:
        """Raise ``UnsupportedContentType`` for a refused ``ctype`` (lower case, no parameters)."""
        if not ctype:
            return  # no label: the bytes decide
        if ctype.startswith(self.refuse) or (self.accept is not None and not ctype.startswith(self.accept)):
            raise UnsupportedContentType(f"content type {ctype}", url=url)


def _follow(
    client: httpx.Client,
    url: str,
    policy: FetchPolicy,
    headers: dict[str, str],
    types: _TypeCheck,
    deadline: float,
    started: float,
    check_addresses: bool,
) -> FetchResult:
    current = url
    seen: list[str] = []
    while True:
        _, host, port = check_url(current)
        if check_addresses:
            try:
                ipaddress.ip_address(host)
                if not is_address_allowed(host, policy.allowed_networks, port=port):
                    raise BlockedAddress(f"refused address {host} (port {port})", url=current)
            except ValueError:
                try:
                    resolve_allowed(host, port, policy.allowed_networks)
                except FetchError as exc:
                    exc.url = current
                    raise
        if current in seen:
            raise TooManyRedirects(f"redirect loop at {current}", url=url)
        seen.append(current)
        result = _fetch_one(client, current, policy, headers, types, deadline)
        if isinstance(result, str):  # a redirect target
            if len(seen) > policy.max_redirects:
                raise TooManyRedirects(f"more than {policy.max_redirects} redirects", url=url)
            current = result
            continue
        result.url = url
        result.redirects = seen[1:]
        result.elapsed = time.monotonic() - started
        return result


def _fetch_one(
    client: httpx.Client,
    url: str,
    policy: FetchPolicy,
    headers: dict[str, str],
    types: _TypeCheck,
    deadline: float,
) -> FetchResult | str:
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                if not location:
                    raise HTTPStatusError("redirect without Location", url=url, status=response.status_code)
                return urljoin(url, str(location))
            status = response.status_code
            if status == 304:
                return FetchResult(url, url, status, b"", dict(response.headers), not_modified=True)
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise RateLimited(f"HTTP {status}", url=url, status=status, retry_after=retry_after)
            if status >= 400:
                raise HTTPStatusError(f"HTTP {status}", url=url, status=status)
            types.check(response.headers.get("content-type", "").split(";")[0].strip().lower(), url)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise ResponseTooLarge(f"declared {declared} bytes > {policy.max_bytes}", url=url)
            chunks: list[bytes] = []
            size = 0
            if response.is_stream_consumed:  # built from bytes (mock transports): httpx decoded it already
                body = response.content
                raw: Iterable[bytes] = (body[i : i + DECODE_STEP] for i in range(0, len(body), DECODE_STEP))
                decoders: list[_Inflater] = []
            else:
                raw = response.iter_raw()
                decoders = _decoders(response.headers.get("content-encoding", ""), url)
            for chunk in _decode(raw, decoders):  # the cap counts decompressed bytes
                size += len(chunk)
                if size > policy.max_bytes:
                    raise ResponseTooLarge(f"body over {policy.max_bytes} bytes", url=url)
                if time.monotonic() > deadline:
                    raise FetchTimeout(f"total time over {policy.total_timeout}s", url=url)
                chunks.append(chunk)
            return FetchResult(url, str(response.url), status, b"".join(chunks), dict(response.headers))
    except FetchError:
        raise
    except httpx.TimeoutException as exc:
        raise FetchTimeout(f"{type(exc).__name__}: {exc}", url=url) from None
    except httpx.TooManyRedirects as exc:
        raise TooManyRedirects(str(exc), url=url) from None
    except (httpx.DecodingError, zlib.error) as exc:
        raise ConnectError(f"undecodable body: {exc}", url=url) from None
    except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConnectError(f"{type(exc).__name__}: {exc}", url=url) from None


DECODE_STEP = 64 * 1024
MAX_ENCODINGS = 3


class _Inflater:
    """zlib decompression that never returns more than ``DECODE_STEP`` bytes from one call."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback  # "deflate" is sometimes sent without its zlib header
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._obj.decompress(data, DECODE_STEP)
            except zlib.error:
                if not (self._raw_fallback and not self._started):
                    raise
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                continue
            self._started = True
            data = self._obj.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < DECODE_STEP:
                return

    def flush(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        tail = self._obj.flush()
        if tail:
            yield tail


def _decoders(content_encoding: str, url: str) -> list[_Inflater]:
    """Decoders for a ``Content-Encoding`` list, in the order they must run (last applied, first undone)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise UnsupportedContentType(f"{len(codings)} nested content encodings", url=url)
    decoders = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Inflater(zlib.MAX_WBITS | 16))
        elif coding == "deflate":
            decoders.append(_Inflater(zlib.MAX_WBITS, raw_fallback=True))
        else:
            raise UnsupportedContentType(f"content encoding {coding}", url=url)
    return decoders


def _decode(chunks: Iterable[bytes], decoders: Sequence[_Inflater]) -> Iterator[bytes]:
    """Decoded body in pieces of at most ``DECODE_STEP`` bytes, however large the compression ratio."""

    def push(stage: int, data: bytes) -> Iterator[bytes]:
        if stage == len(decoders):
            yield data
            return
        for out in decoders[stage].feed(data):
            yield from push(stage + 1, out)

    for chunk in chunks:
        if chunk:
            yield from push(0, chunk)
    for stage, decoder in enumerate(decoders):
        for out in decoder.flush():
            yield from push(stage + 1, out)
