"""Settings from connection fields: what an Airflow Connection (or any other store of host/port/login/password
records) says about Elasticsearch and SMTP, applied over the ``NEWSWATCH_*`` settings.

Airflow-free on purpose: the DAG side (``dags/_newswatch_common.py``) reads the connection and hands its
fields here as a plain mapping — ``conn_type``, ``host``, ``port``, ``schema``, ``login``, ``password`` and
``extra`` (a JSON object, as text or already a dict). A field left empty keeps the ``NEWSWATCH_*`` value.

===============================  =====================================================================
``newswatch_elasticsearch``      host (one or more, comma-separated; may carry ``https://``), port
                                 (default 9200), schema ``http``/``https``, login, password; extra:
                                 ``index_prefix``, ``api_key``, ``ca_certs``, ``verify_certs``
``newswatch_smtp``               host, port, login, password; extra: ``starttls``, ``ssl``, ``sender``
                                 (or ``from_email``), ``timeout``; the smtp provider's ``disable_tls``,
                                 ``disable_ssl`` are understood, ``retry_limit``/``auth_type`` ignored
===============================  =====================================================================

A malformed connection (a port that is no number, an extra that is no JSON object, an unknown extra key, a
value of the wrong type) raises ``ConfigError`` naming the connection and the field — never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from newswatch.errors import ConfigError
from newswatch.settings import Settings

ES_CONN_ID = "newswatch_elasticsearch"
SMTP_CONN_ID = "newswatch_smtp"

_ES_EXTRAS = {"index_prefix", "api_key", "ca_certs", "verify_certs", "scheme"}
_SMTP_EXTRAS = {"starttls", "ssl", "sender", "from_email", "timeout", "disable_tls", "disable_ssl"}
_SMTP_IGNORED = {"retry_limit", "auth_type"}  # written by the smtp provider's connection form; meaningless here
_FIELDS = {"conn_id", "conn_type", "description", "host", "port", "schema", "login", "password", "extra"}


def _extra(name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    raw = fields.get("extra")
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"Airflow connection {name!r}: extra is not valid JSON ({exc.msg} at "
                              f"position {exc.pos})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"Airflow connection {name!r}: extra must be a JSON object, not {type(raw).__name__}")
    return dict(raw)


def _port(name: str, fields: Mapping[str, Any]) -> int | None:
    port = fields.get("port")
    if port in (None, ""):
        return None
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"Airflow connection {name!r}: port must be an integer, not {port!r}") from None
    if not 0 < value < 65536:
        raise ConfigError(f"Airflow connection {name!r}: port {value} is out of range")
    return value


def _bool(name: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ConfigError(f"Airflow connection {name!r}: extra {key!r} must be true or false, not {value!r}")


def _check_keys(name: str, fields: Mapping[str, Any], extra: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise ConfigError(f"Airflow connection {name!r}: unknown field(s) {', '.join(unknown)}")
    unknown = sorted(set(extra) - allowed)
    if unknown:
        raise ConfigError(f"Airflow connection {name!r}: unknown extra key(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(allowed))})")


def es_overrides(fields: Mapping[str, Any], name: str = ES_CONN_ID) -> dict[str, Any]:
    """The ``es`` settings a connection sets (only those it sets). See the module docstring for the fields."""
    extra = _extra(name, fields)
    _check_keys(name, fields, extra, _ES_EXTRAS)
    out: dict[str, Any] = {}
    host = str(fields.get("host") or "").strip()
    port = _port(name, fields)
    scheme = str(fields.get("schema") or extra.get("scheme") or "").strip().lower()
    if not scheme and str(fields.get("conn_type") or "").lower() in ("http", "https"):
        scheme = str(fields["conn_type"]).lower()
    if scheme and scheme not in ("http", "https"):
        raise ConfigError(f"Airflow connection {name!r}: schema must be http or https, not {scheme!r}")
    if host:
        urls = []
        for part in (h.strip().rstrip("/") for h in host.split(",")):
            if not part:
                continue
            if "@" in part:  # a URL is logged; credentials belong in login/password
                raise ConfigError(f"Airflow connection {name!r}: put credentials in login and password, "
                                  "not in host")
            if "://" not in part:
                part = f"{scheme or 'http'}://{part}"
            if port is not None and not _has_port(part):
                part = f"{part}:{port}"
            elif port is None and not _has_port(part):
                part = f"{part}:9200"
            urls.append(part)
        out["url"] = ",".join(urls)
    elif port is not None or scheme:
        raise ConfigError(f"Airflow connection {name!r}: a port or schema needs a host")
    if fields.get("login"):
        out["username"] = str(fields["login"])
    if fields.get("password"):
        out["password"] = str(fields["password"])
    for key in ("index_prefix", "api_key", "ca_certs"):
        if extra.get(key) not in (None, ""):
            out[key] = str(extra[key])
    if "verify_certs" in extra:
        out["verify_certs"] = _bool(name, "verify_certs", extra["verify_certs"])
    return out


def smtp_overrides(fields: Mapping[str, Any], name: str = SMTP_CONN_ID) -> dict[str, Any]:
    """The ``smtp`` settings a connection sets (only those it sets). See the module docstring."""
    extra = _extra(name, fields)
    _check_keys(name, fields, extra, _SMTP_EXTRAS | _SMTP_IGNORED)
    out: dict[str, Any] = {}
    if fields.get("host"):
        out["host"] = str(fields["host"]).strip()
    port = _port(name, fields)
    if port is not None:
        out["port"] = port
    if fields.get("login"):
        out["username"] = str(fields["login"])
    if fields.get("password"):
        out["password"] = str(fields["password"])
    if "disable_tls" in extra:
        out["starttls"] = not _bool(name, "disable_tls", extra["disable_tls"])
    if "disable_ssl" in extra:
        out["ssl"] = not _bool(name, "disable_ssl", extra["disable_ssl"])
    for key in ("starttls", "ssl"):  # our own names win over the provider's
        if key in extra:
            out[key] = _bool(name, key, extra[key])
    if out.get("ssl"):
        out["starttls"] = False  # implicit TLS: nothing to upgrade
    sender = extra.get("sender") or extra.get("from_email")
    if sender:
        out["sender"] = str(sender)
    if extra.get("timeout") not in (None, ""):
        out["timeout"] = extra["timeout"]
    return out


def apply_connections(settings: Settings, *, es: Mapping[str, Any] | None = None,
                      smtp: Mapping[str, Any] | None = None) -> Settings:
    """``settings`` with the Elasticsearch and SMTP connections' fields applied (``None``: no such
    connection, keep the ``NEWSWATCH_*`` values). Raises ``ConfigError`` naming a malformed connection."""
    if es is not None:
        settings = _override(settings, ES_CONN_ID, "es", es_overrides(es))
    if smtp is not None:
        settings = _override(settings, SMTP_CONN_ID, "smtp", smtp_overrides(smtp))
    return settings


def _override(settings: Settings, name: str, section: str, values: dict[str, Any]) -> Settings:
    try:
        return settings.with_overrides(**{section: values})
    except ConfigError as exc:
        raise ConfigError(f"Airflow connection {name!r}: {exc}") from None


def _has_port(url: str) -> bool:
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    return ":" in netloc.rsplit("]", 1)[-1]

