"""A reusable data set for report benchmarks: interactions and their answers, bulk-loaded with COPY.

`build(conn, n_responses, ...)` fills a migrated database that has the seed surveys with
realistic rows, generated and sent in chunks so that 10 million answers load in minutes without
being held in memory. Each answer has its interaction; an anonymous answer (DESIGN 5) is stored
without customer, interaction or invitation link and with its time cut to the UTC day, like the
service stores one. Every chunk commits on its own, so the feed sees many inserting transactions.

    from bench.report_data import build, connect
    with connect(url) as conn:
        build(conn, 1_000_000)

Or from the shell, against a database the service has migrated and seeded:

    .venv/bin/python bench/report_data.py --url postgresql://... --responses 10000000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

CHANNELS = ("sms", "email", "ivr")
LOCALES = (("en", 0.55), ("zh-Hans", 0.35), ("zh-Hant", 0.10))
QUEUE_NAMES = ("billing", "sales", "support", "returns", "retention", "technical", "orders", "vip")
REASONS = ("Quick and friendly.", "Took too long to get through.", "The agent knew the answer right away.",
           "I had to repeat my order number, twice.", "Solved on the first call", "客服很耐心，谢谢。",
           "等待时间太长。", "問題已經解決，謝謝！", "Refund still not arrived", "Great, \"really\" great",
           "=1+1", "Line one\nline two", "Tab\there", "Back\\slash")
REASON_SHARE = 0.3
CHUNK = 100_000
SURVEY_WEIGHTS = {"csat-call": 0.4, "ces-chat": 0.25, "csat-purchase": 0.2, "aes-agent": 0.15}
INTERACTION_COLUMNS = ("id", "source", "external_id", "type", "ended_at", "customer_id", "customer_locale",
                       "agent_id", "team", "queue", "attributes", "request_hash", "created_at")
RESPONSE_COLUMNS = ("id", "survey_id", "metric", "score", "reason", "anonymous", "channel", "answer_channel",
                    "interaction_type", "agent_id", "team", "queue", "locale", "interaction_id",
                    "customer_id", "answered_at")


def connect(url: str) -> psycopg.Connection:
    """A psycopg connection from a SQLAlchemy or libpq URL."""
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))


def build(conn: psycopg.Connection, n_responses: int, *, days: int = 90, agents: int = 100, teams: int = 10,
          queues: int = 4, anonymous_share: float = 0.1, end: datetime | None = None, seed: int = 7,
          vacuum: bool = True) -> dict:
    """Load n_responses answers (and an interaction for each) answered over `days` up to `end` (now).

    Scores lie within each survey's scale and lean to its top, as real answers do; channels are
    sms, email and ivr (a survey's own channels first). Returns the counts and the seconds it took.
    The two tables' plain indexes are dropped for the load and built again after it (whatever
    happens), since millions of inserts into random places of an index cost far more than one sort;
    so build into a database nothing else is using.
    """
    began = time.monotonic()
    indexes = _plain_indexes(conn)
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    try:
        result = _load(conn, n_responses, days=days, agents=agents, teams=teams, queues=queues,
                       anonymous_share=anonymous_share, end=end, seed=seed)
    finally:
        conn.rollback()
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
    if vacuum:
        _vacuum(conn)
    return {**result, "seconds": time.monotonic() - began}


def _load(conn: psycopg.Connection, n_responses: int, *, days: int, agents: int, teams: int, queues: int,
          anonymous_share: float, end: datetime | None, seed: int) -> dict:
    """The rows of build(), chunk by chunk."""
    rng = random.Random(seed)
    surveys = _surveys(conn)
    end = (end or datetime.now(UTC)).astimezone(UTC)
    end_epoch = int(end.timestamp())
    span = days * 86400
    first_id = _reserve_interaction_ids(conn, n_responses)
    now = _stamp(end_epoch)
    agent_rows = [(f"a-{a}", f"t-{a % teams}") for a in range(agents)]
    queue_names = [QUEUE_NAMES[q] if q < len(QUEUE_NAMES) else f"queue-{q}" for q in range(queues)]
    customers = max(1, n_responses // 3)
    locales = [name for name, _ in LOCALES]
    locale_cum = _cumulative([share for _, share in LOCALES])
    reasons = [_copy_text(r) for r in REASONS]
    survey_cum = _cumulative([SURVEY_WEIGHTS.get(s["key"], 0.1) for s in surveys])
    days_text: dict[int, str] = {}
    anonymous = 0
    done = 0
    while done < n_responses:
        size = min(CHUNK, n_responses - done)
        interactions, responses = [], []
        for i in range(done, done + size):
            survey = surveys[_pick(rng, survey_cum)]
            agent, team = agent_rows[rng.randrange(agents)]
            queue = queue_names[rng.randrange(queues)]
            locale = locales[_pick(rng, locale_cum)]
            channel = survey["channels"][_pick(rng, survey["channel_cum"])]
            way = "web" if channel == "email" else channel  # an email is answered on its web page
            kind = survey["types"][rng.randrange(len(survey["types"]))]
            score = survey["scores"][_pick(rng, survey["score_cum"])]
            reason = reasons[rng.randrange(len(reasons))] if rng.random() < REASON_SHARE else r"\N"
            answered = end_epoch - span + rng.randrange(span)
            customer = f"c-{rng.randrange(customers)}"
            interaction_id = first_id + i
            interactions.append(
                f"{interaction_id}\tbench\tx-{interaction_id}\t{kind}\t{_stamp(answered - 600, days_text)}\t"
                f"{customer}\t{locale}\t{agent}\t{team}\t{queue}\t{{}}\tbench\t{now}\n")
            if survey["anonymity"] != "never" and (survey["anonymity"] == "always"
                                                   or rng.random() < anonymous_share):
                anonymous += 1
                day = _day(answered, days_text)
                responses.append(f"{_hex(rng)}\t{survey['id']}\t{survey['metric']}\t{score}\t{reason}\tt\t"
                                 f"{channel}\t{way}\t{kind}\t{agent}\t{team}\t{queue}\t{locale}\t\\N\t\\N\t"
                                 f"{day} 00:00:00+00\n")
            else:
                responses.append(f"{_hex(rng)}\t{survey['id']}\t{survey['metric']}\t{score}\t{reason}\tf\t"
                                 f"{channel}\t{way}\t{kind}\t{agent}\t{team}\t{queue}\t{locale}\t{interaction_id}\t"
                                 f"{customer}\t{_stamp(answered, days_text)}\n")
        with conn.cursor() as cur:
            with cur.copy(f"COPY interactions ({', '.join(INTERACTION_COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(interactions))
            with cur.copy(f"COPY responses ({', '.join(RESPONSE_COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(responses))
        conn.commit()
        done += size
    return {"responses": n_responses, "anonymous": anonymous, "interactions": n_responses}


def _surveys(conn: psycopg.Connection) -> list[dict]:
    """The active surveys with what generation needs: scale points with weights, channels, types."""
    rows = conn.execute("SELECT id, key, metric, scale_min, scale_max, channels::text, "
                        "interaction_types::text, anonymity FROM surveys WHERE active ORDER BY id").fetchall()
    conn.commit()
    if not rows:
        raise SystemExit("No surveys: migrate the database and seed the default surveys first.")
    out = []
    for survey_id, key, metric, low, high, channels, types, anonymity in rows:
        scores = list(range(low, high + 1))
        ours = [c for c in json.loads(channels) if c in CHANNELS]
        ordered = ours + [c for c in CHANNELS if c not in ours]
        out.append({"id": survey_id, "key": key, "metric": metric, "anonymity": anonymity,
                    "scores": scores,
                    # Answers lean to the top of the scale: weight 1 at the bottom, 4 at the top, squared.
                    "score_cum": _cumulative([(1 + 3 * (s - low) / max(1, high - low)) ** 2 for s in scores]),
                    "channels": ordered,
                    "channel_cum": _cumulative([0.7 if n == 0 else 0.3 / max(1, len(ordered) - 1)
                                                for n in range(len(ordered))]),
                    "types": json.loads(types) or ["call"]})
    return out


def _plain_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Name and definition of each index of interactions and responses that backs no constraint."""
    rows = conn.execute("SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = current_schema() "
                        "AND tablename IN ('interactions', 'responses') AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) "
                        "ORDER BY indexname").fetchall()
    conn.commit()
    return rows


def _reserve_interaction_ids(conn: psycopg.Connection, n: int) -> int:
    """Take n ids from the interactions sequence in one step; returns the first."""
    seq = conn.execute("SELECT pg_get_serial_sequence('interactions', 'id')").fetchone()[0]
    first = conn.execute("SELECT nextval(%s)", (seq,)).fetchone()[0]
    conn.execute("SELECT setval(%s, %s)", (seq, first + max(n, 1) - 1))
    conn.commit()
    return first


def _vacuum(conn: psycopg.Connection) -> None:
    """VACUUM ANALYZE the loaded tables: plans for their real size, and index-only scans that work."""
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("VACUUM (ANALYZE) interactions, responses")
    finally:
        conn.autocommit = autocommit


def _cumulative(weights: list[float]) -> list[float]:
    """Weights as cumulative shares ending at 1, for _pick."""
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [c / total for c in out]


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """The index a random draw falls on: cheaper than random.choices for one pick."""
    x = rng.random()
    for n, c in enumerate(cumulative):
        if x < c:
            return n
    return len(cumulative) - 1


def _hex(rng: random.Random) -> str:
    """A random 32-hex-digit response id, as the service makes them, from the seeded generator."""
    return f"{rng.getrandbits(128):032x}"


def _day(epoch: int, cache: dict[int, str]) -> str:
    """The UTC date of a Unix time, ISO 8601, remembered per day."""
    day = epoch // 86400
    text = cache.get(day)
    if text is None:
        text = cache[day] = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).date().isoformat()
    return text


def _stamp(epoch: int, cache: dict[int, str] | None = None) -> str:
    """A UTC time as COPY reads it, without building a datetime for every row."""
    day = _day(epoch, {} if cache is None else cache)
    second = epoch % 86400
    return f"{day} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00"


def _copy_text(value: str) -> str:
    """A value escaped for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def main() -> None:
    """Build the data set into an existing migrated and seeded database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with connect(args.url) as conn:
        result = build(conn, args.responses, days=args.days, seed=args.seed)
    print(f"loaded {result['responses']:,} responses ({result['anonymous']:,} anonymous) and "
          f"{result['interactions']:,} interactions in {result['seconds']:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
