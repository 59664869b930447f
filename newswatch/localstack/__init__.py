"""Developer and demo tooling, apart from the core: the local services of ``make demo`` and ``make test``.

``services`` starts and stops Elasticsearch (JDK search, the Maven Central download, an unprivileged user),
the SMTP sink (``mailsink``, needs the ``stack`` extra: aiosmtpd) and the offline sample news site
(``demosite``); ``newswatch stack up`` uses them. The pipeline never imports this package.
"""
