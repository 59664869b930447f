"""Connection fields → settings (``newswatch.connections``), without Airflow: what an Airflow Connection
``newswatch_elasticsearch`` / ``newswatch_smtp`` sets, what it leaves to ``NEWSWATCH_*``, and how a
malformed one fails — by name, never quoting a secret."""

from __future__ import annotations

import json
import logging

import pytest

from newswatch.config import FeedConfig, select_feeds
from newswatch.connections import apply_connections, es_overrides, smtp_overrides
from newswatch.errors import ConfigError
from newswatch.settings import ElasticsearchSettings, Settings, SMTPSettings

PASSWORD = "s3cret-pw-4711"


def base() -> Settings:
    return Settings(es=ElasticsearchSettings(url="http://env-es:9200", index_prefix="envprefix"),
                    smtp=SMTPSettings(host="env-mail", port=25, sender="env <env@example.org>"))


def test_no_connection_keeps_the_environment() -> None:
    s = base()
    assert apply_connections(s) == s
    assert apply_connections(s, es=None, smtp=None).es.url == "http://env-es:9200"


def test_elasticsearch_connection_fields() -> None:
    s = apply_connections(base(), es={
        "conn_type": "generic", "host": "es1.internal,es2.internal:9201", "port": 9243, "schema": "https",
        "login": "newswatch", "password": PASSWORD,
        "extra": json.dumps({"index_prefix": "prod", "ca_certs": "/etc/ca.pem", "verify_certs": "true"})})
    assert s.es.url == "https://es1.internal:9243,https://es2.internal:9201"
    assert s.es.username == "newswatch" and s.es.password is not None
    assert s.es.password.get_secret_value() == PASSWORD
    assert (s.es.index_prefix, s.es.ca_certs, s.es.verify_certs) == ("prod", "/etc/ca.pem", True)
    assert s.smtp == base().smtp  # untouched


def test_elasticsearch_connection_defaults_and_partial_fields() -> None:
    assert es_overrides({"host": "es.internal"}) == {"url": "http://es.internal:9200"}
    assert es_overrides({"host": "https://es.internal/"}) == {"url": "https://es.internal:9200"}
    assert es_overrides({"conn_type": "https", "host": "es.internal", "port": "9300"}) == {
        "url": "https://es.internal:9300"}
    # only an API key: the URL stays NEWSWATCH_ES__URL
    s = apply_connections(base(), es={"conn_type": "generic", "extra": {"api_key": PASSWORD}})
    assert s.es.url == "http://env-es:9200" and s.es.index_prefix == "envprefix"
    assert s.es.api_key is not None and s.es.api_key.get_secret_value() == PASSWORD


def test_smtp_connection_fields() -> None:
    s = apply_connections(base(), smtp={
        "conn_type": "smtp", "host": "smtp.example.org", "port": "587", "login": "alerts", "password": PASSWORD,
        "extra": {"starttls": True, "sender": "newswatch <alerts@example.org>", "timeout": 20}})
    assert (s.smtp.host, s.smtp.port, s.smtp.username, s.smtp.starttls, s.smtp.ssl) == (
        "smtp.example.org", 587, "alerts", True, False)
    assert s.smtp.password is not None and s.smtp.password.get_secret_value() == PASSWORD
    assert s.smtp.sender == "newswatch <alerts@example.org>" and s.smtp.timeout == 20
    assert s.es == base().es


def test_smtp_provider_form_extras_are_understood() -> None:
    # what the smtp provider's connection form writes: SSL on unless disabled, STARTTLS unless disabled
    out = smtp_overrides({"host": "m", "extra": {"from_email": "a@example.org", "disable_ssl": False,
                                                 "disable_tls": False, "retry_limit": 5, "auth_type": "basic"}})
    assert out == {"host": "m", "ssl": True, "starttls": False, "sender": "a@example.org"}
    out = smtp_overrides({"host": "m", "extra": {"disable_ssl": True, "disable_tls": False}})
    assert (out["ssl"], out["starttls"]) == (False, True)


@pytest.mark.parametrize("fields,message", [
    ({"host": "es", "port": "ninety"}, "port must be an integer"),
    ({"host": "es", "port": 70000}, "out of range"),
    ({"host": "es", "extra": "{not json"}, "extra is not valid JSON"),
    ({"host": "es", "extra": "[1, 2]"}, "extra must be a JSON object"),
    ({"host": "es", "extra": {"index_prefx": "x"}}, "unknown extra key(s) index_prefx"),
    ({"host": "es", "extra": {"verify_certs": "maybe"}}, "'verify_certs' must be true or false"),
    ({"host": "es", "schema": "ftp"}, "schema must be http or https"),
    ({"port": 9200}, "a port or schema needs a host"),
    ({"host": f"https://elastic:{PASSWORD}@es"}, "put credentials in login and password"),
    ({"host": "es", "hosts": "x"}, "unknown field(s) hosts"),
])
def test_malformed_elasticsearch_connection(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        apply_connections(base(), es={**fields, "password": PASSWORD})
    assert "'newswatch_elasticsearch'" in str(err.value) and message in str(err.value)
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize("fields,message", [
    ({"port": "smtp"}, "port must be an integer"),
    ({"extra": {"starttls": "sometimes"}}, "'starttls' must be true or false"),
    ({"extra": {"tls": True}}, "unknown extra key(s) tls"),
    ({"extra": {"timeout": "soon"}}, "smtp.timeout"),  # validated like the environment's values
])
def test_malformed_smtp_connection(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        apply_connections(base(), smtp={"host": "m", **fields, "password": PASSWORD})
    assert "'newswatch_smtp'" in str(err.value) and message in str(err.value)
    assert PASSWORD not in str(err.value)


def test_secrets_are_masked_in_repr_dumps_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    s = apply_connections(base(), es={"host": "es", "login": "u", "password": PASSWORD},
                          smtp={"host": "m", "login": "u", "password": PASSWORD, "extra": {}})
    for field in ("password", "api_key"):
        assert ElasticsearchSettings.model_fields[field].annotation is not str
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("newswatch.test").info("settings %s %r %s", s, s, s.model_dump())
    assert PASSWORD not in repr(s) and PASSWORD not in str(s)
    assert PASSWORD not in s.model_dump_json() and PASSWORD not in json.dumps(s.model_dump(mode="json"))
    assert caplog.records and PASSWORD not in caplog.text


def test_with_overrides_validates_and_names_the_field() -> None:
    s = base().with_overrides(fetch={"max_articles_per_feed": 5})
    assert s.fetch.max_articles_per_feed == 5 and s.es == base().es
    with pytest.raises(ConfigError, match="smtp.port"):
        base().with_overrides(smtp={"port": "many"})
    with pytest.raises(ConfigError, match="not a settings section"):
        base().with_overrides(topic={"x": 1})


def test_select_feeds_by_url_or_name() -> None:
    feeds = [FeedConfig(url="https://a.example/feed", name="A"), FeedConfig(url="https://b.example/rss")]
    assert select_feeds(feeds, []) == feeds
    assert select_feeds(feeds, ["https://b.example/rss"]) == feeds[1:]
    assert select_feeds(feeds, ["A", "https://b.example/rss"]) == feeds
    with pytest.raises(ConfigError, match="'C'"):
        select_feeds(feeds, ["A", "C"])
