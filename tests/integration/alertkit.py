"""Articles with known publication times, indexed through the pipeline's own ``index --file`` road, and
the helpers the alert tests share."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newswatch import steps
from newswatch.runtime import Runtime

FRESH = {
    "title": "New contingent of North Korean troops arrives in Russia's Kursk region, Ukraine says",
    "text": ("Ukraine's military intelligence said on Tuesday that a new contingent of about 3,000 North Korean "
             "soldiers had arrived in Russia's Kursk region to reinforce Russian units near the border. "
             "The North Korean troops were moved by rail from training grounds in Russia's Far East, the agency "
             "said, adding that they were being placed under Russian command. Kyiv said the deployment showed "
             "Pyongyang was deepening its role in Russia's war against Ukraine."),
    "source": "Kyiv Wire", "lang": "en",
}
FOLLOWUP = {
    "title": "Seoul confirms up to 6,000 more North Korean soldiers sent to Kursk",
    "text": ("South Korea's National Intelligence Service confirmed on Tuesday that a new contingent of North Korean "
             "soldiers had arrived in Russia's Kursk region, putting the number at up to 6,000 troops. The NIS said "
             "the North Korean troops were moved by rail from training grounds in Russia's Far East and placed "
             "under Russian command near the border with Ukraine, deepening Pyongyang's role in Russia's war."),
    "source": "Seoul Daily", "lang": "en",
}
DISTINCT = [
    ("North Korean soldiers captured by Ukrainian forces in Kursk", "Ukrainian special forces captured two North "
     "Korean soldiers in Russia's Kursk region, Ukraine's security service said, releasing interrogation videos "
     "of the wounded men who said they had been told they were going to a training exercise."),
    ("Hundreds of North Korean troops killed in Kursk fighting, Zelensky says", "President Volodymyr Zelensky said "
     "hundreds of North Korean soldiers fighting for Russia had been killed or wounded in assaults in the Kursk "
     "region over the past week, accusing Moscow of using them as cannon fodder."),
    ("North Korean troops training at Russian bases in the Far East", "Satellite images show North Korean soldiers "
     "training at Russian military ranges in Primorsky Krai in Russia's Far East before deployment to the war "
     "against Ukraine, a think tank in Washington said."),
    ("North Korean military engineers sent to rebuild Kursk, Moscow says", "Russia's security council secretary "
     "said North Korea would send 1,000 military deminers and 5,000 military builders to the Kursk region to help "
     "Russian troops, after North Korean soldiers fought alongside Russian forces there."),
    ("Pentagon: North Korean troops now fighting on the front line in Kursk", "The Pentagon said North Korean "
     "troops had entered combat against Ukrainian forces in Russia's Kursk region, the first time North Korean "
     "soldiers have been confirmed fighting in Russia's war against Ukraine."),
]


def article(slug: str, published: datetime, **fields: Any) -> dict[str, Any]:
    return {"url": f"https://news.example.org/{slug}", "published": published.astimezone(UTC).isoformat(),
            "source": fields.pop("source", "Example News"), "lang": fields.pop("lang", "en"), **fields}


def index_items(rt: Runtime, items: list[dict[str, Any]]) -> dict[str, Any]:
    return steps.index_file(rt, [json.dumps(i) for i in items])


def now() -> datetime:
    return datetime.now(UTC)


def old(days: int) -> datetime:
    return now() - timedelta(days=days)


def mails(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"))]


def body_text(msg: email.message.EmailMessage, subtype: str = "plain") -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())
