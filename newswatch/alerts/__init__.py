"""Alert emails an analyst trusts: immediate or digest, follow-ups in one thread, spikes, feed health.

- ``run`` — ``newswatch alert``: first alerts, follow-ups, folds, backlog digests, spikes, feed incidents;
- ``digest`` — ``newswatch digest``: the periodic digests;
- ``outbox`` — every email is a claim in Elasticsearch first; its state machine gives exactly-once delivery
  wherever the SMTP server did not accept the message, and says ``uncertain`` where nobody can know;
- ``threads`` — per recipient and story, the decision taken and what follow-ups compare;
- ``views``, ``compose``, ``messages`` — what an email says and how it is built;
- ``monitors`` — spikes and feed-health incidents; ``reconcile`` — stories split by concurrent indexers;
- ``stats`` — ``newswatch alerts stats``.
"""

from newswatch.alerts.digest import run_digests
from newswatch.alerts.run import run_alerts
from newswatch.alerts.stats import alert_stats

send_alerts = run_alerts  # the name earlier releases used

__all__ = ["alert_stats", "run_alerts", "run_digests", "send_alerts"]
