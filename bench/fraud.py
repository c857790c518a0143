"""Fraud scores per second, in-process and over HTTP, with 50 rules and 1M known-fraud entries.

    python bench/fraud.py --db sqlite:////tmp/fraud-bench.db
    python bench/fraud.py --db postgresql+psycopg://postgres@127.0.0.1/td_fraud --http

In-process: (1) the pure path — parse, screen, normalise, features, 50 CEL rules — and (2) the
full ``service.score`` with its lookup and inserts, one committed transaction per order, as
``trustdesk fraud score`` makes it (two statements and a commit). Over HTTP (``--http``):
``trustdesk serve --workers 2`` on the same database (a socket a worker), driven by ``wrk``
(Debian package) with a Lua script that sends a new order on every request, first paced at
about 500 requests/s, then unpaced. ``--reuse`` keeps the known-fraud entries of an earlier run.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import arguments, bulk_insert, fresh_engine, latency_summary, machine
from sqlalchemy import delete, text

from trustdesk import db
from trustdesk.fraud import features, merchants, rulesets, service
from trustdesk.fraud.defaults import DEFAULT_RULE_SET
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.models import KnownFraud, Review, ScoredOrder
from trustdesk.fraud.order import parse_order, screen
from trustdesk.fraud.rules import compiled
from trustdesk.fraud.scoring import Scoring
from trustdesk.settings import DEVELOPMENT_FRAUD_KEY, FraudSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
ORDER = json.loads((ROOT / "tests/fixtures/fraud/order.json").read_text("utf-8"))
KINDS = ("email", "phone", "address", "device", "card", "ip")
BUYERS = 100_000
PORT = 8765
TRUSTDESK = [sys.executable, "-c", "from trustdesk.cli import main; main()"]


def fifty_rules() -> dict[str, Any]:
    """The default rules plus generated ones of every shape, 50 in all."""
    rules = DEFAULT_RULE_SET.as_json()["rules"]
    shapes = [
        "order.amount_yen > {n}000 && (velocity.email.d1 >= {k} || velocity.email.elsewhere_d1)",
        "order.email_domain == 'spam{n}.example' || order.card_bin == '4{n:05d}'",
        "(velocity.ip.d30 > {n} || velocity.ip.elsewhere_d30) && !order.billing_equals_shipping",
        "order.quantity >= {k} && order.max_unit_price_yen > {n}00",
        "order.shipping_prefecture in ['沖縄県', '北海道'] && order.amount_yen > {n}0000",
        "known.count >= {k} || velocity.device.h1 > {n} || velocity.device.elsewhere_h1",
    ]
    n = 0
    while len(rules) < 50:
        shape = shapes[n % len(shapes)]
        rules.append(
            {
                "name": f"generated_{n}",
                "expression": shape.format(n=n + 1, k=n % 5 + 2),
                "weight": 5 + n % 20,
                "band": None,
                "description": "",
            }
        )
        n += 1
    return {"rules": rules, "thresholds": {"high": 60, "medium": 25, "trusted": -20}}


def buyer_values(buyer: int) -> dict[str, str]:
    """The buyer's own e-mail, phone, street, device, IP and card: few orders share one value,
    as in a real shop (a value on every order would make each score count all of them). The
    Lua script of the HTTP run computes the same."""
    return {
        "email": f"buyer{buyer}@mail.example.jp",
        "phone": f"090-{buyer // 10000:04d}-{buyer % 10000:04d}",
        "street": f"桜丘町{buyer // 100 + 1}-{buyer % 100 + 1}",
        "device": f"dev-{buyer}",
        "ip": f"198.51.{buyer // 250 % 256}.{buyer % 250 + 1}",
        "card": f"tok_{buyer}",
    }


def buyer_order(number: int, at: datetime, rng: random.Random) -> dict[str, Any]:
    order = copy.deepcopy(ORDER)
    values = buyer_values(rng.randrange(BUYERS))
    order["order_id"] = f"B-{number}"
    order["ordered_at"] = at.isoformat()
    order["amount_yen"] = rng.choice([980, 4980, 19800, 59800, 128000])
    order["buyer"]["email"] = values["email"]
    order["buyer"]["phone"] = values["phone"]
    order["billing_address"]["street"] = values["street"]
    order["shipping_address"]["street"] = values["street"]
    order["device_id"] = values["device"]
    order["ip"] = values["ip"]
    order["payment"]["card_token"] = values["card"]
    return order


def known_rows(hasher: Hasher, count: int, now: datetime) -> Any:
    """Known fraud for every 20th buyer (5% of orders hit), the rest random values."""
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        buyer = (n // len(KINDS)) * 20
        if buyer < BUYERS:
            values = buyer_values(buyer)
            value = {
                "email": values["email"],
                "phone": "+81" + values["phone"].replace("-", "")[1:],
                "address": f"東京都/渋谷区/{values['street']}サンプルビル5f",
                "device": values["device"],
                "card": values["card"],
                "ip": values["ip"],
            }[kind]
        else:
            value = f"random-{n}"
        yield {
            "key_hash": hasher(kind, value),
            "kind": kind,
            "source": "import",
            "merchant_id": None,
            "order_pk": None,
            "note": "",
            "added_at": now,
        }


def set_up(url: str, known: int, now: datetime, reuse: bool) -> tuple[Any, str, int]:
    """A merchant with 50 rules; unless ``reuse``, first a fresh schema with ``known``
    known-fraud entries (``reuse`` keeps those of an earlier run, and forgets its orders: each
    run's velocity counts start from nothing, as on a fresh schema)."""
    if reuse:
        engine = db.make_engine(Settings(database_url=url, environment="development").database_url)
        db.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(delete(Review))
            connection.execute(delete(KnownFraud).where(KnownFraud.order_pk.is_not(None)))
            connection.execute(delete(ScoredOrder))
    else:
        engine = fresh_engine(url)
    factory = db.session_factory(engine)
    with db.unit_of_work(factory) as session:
        shop = merchants.add_merchant(session, f"Bench shop {now.isoformat()}", now)
        merchant = merchants.get_merchant(session, shop.merchant_id)
        version = rulesets.create_version(session, merchant, fifty_rules(), now)
        rulesets.activate(session, merchant, version.version, now)
    if reuse:
        return engine, shop.api_key, shop.merchant_id
    started = time.perf_counter()
    hasher = Hasher(DEVELOPMENT_FRAUD_KEY)
    bulk_insert(engine, KnownFraud.__table__, known_rows(hasher, known, now))  # type: ignore[arg-type]
    print(f"{known:,} known-fraud entries in {time.perf_counter() - started:.1f} s", flush=True)
    return engine, shop.api_key, shop.merchant_id


def pure_scoring(count: int, now: datetime) -> None:
    document = fifty_rules()
    rule_set = compiled("bench", document["rules"], document["thresholds"])
    rng = random.Random(1)
    orders = [buyer_order(n, now - timedelta(minutes=1), rng) for n in range(count)]
    timings = []
    started, cpu = time.perf_counter(), time.process_time()
    for raw in orders:
        begin = time.perf_counter()
        order = parse_order(raw)
        screen(order, now, timedelta(days=7))
        values = features.normalise_order(order)
        rule_set.evaluate(features.build(order, values, features.Lookups()))
        timings.append(time.perf_counter() - begin)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"pure scoring (no database): {count / elapsed:,.0f} scores/s wall, "
        f"{count / cpu:,.0f} per CPU-second, {latency_summary(timings)}",
        flush=True,
    )


def full_scoring(engine: Any, merchant_id: int, count: int, now: datetime) -> None:
    factory = db.session_factory(engine)
    scoring = Scoring(Hasher(DEVELOPMENT_FRAUD_KEY), 7, FraudSettings().velocity_count_limit)
    rng = random.Random(2)
    orders = [buyer_order(n, now - timedelta(minutes=1), rng) for n in range(count)]
    timings, bands = [], {}
    started, cpu = time.perf_counter(), time.process_time()
    for raw in orders:
        begin = time.perf_counter()
        with db.unit_of_work(factory) as session:
            band = service.score(session.connection(), scoring, merchant_id, raw, now)["band"]
        timings.append(time.perf_counter() - begin)
        bands[band] = bands.get(band, 0) + 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"service.score ({engine.dialect.name}): {count / elapsed:,.0f} scores/s wall, "
        f"{count / cpu:,.0f} per CPU-second of this process, {latency_summary(timings)}; "
        f"bands {bands}",
        flush=True,
    )


LUA = r"""
local counter = 0
local threads = 0
local template = [[%s]]
local key = "%s"
local pace = %d
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", os.time() * 100 + threads)
end
function request()
  counter = counter + 1
  local buyer = math.random(0, 99999)
  local at = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", os.time() - 60)
  local phone = string.format("090-%%04d-%%04d", math.floor(buyer / 10000), buyer %% 10000)
  local street = (math.floor(buyer / 100) + 1) .. "-" .. (buyer %% 100 + 1)
  local ip = "198.51." .. (math.floor(buyer / 250) %% 256) .. "." .. (buyer %% 250 + 1)
  local body = template:gsub("@ID@", thread_id .. "-" .. counter)
                       :gsub("@AT@", at)
                       :gsub("@BUYER@", tostring(buyer))
                       :gsub("@PHONE@", phone)
                       :gsub("@STREET@", street)
                       :gsub("@IP@", ip)
  return wrk.format("POST", "/api/v1/fraud/orders",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end
function delay()
  -- pauses drawn from an exponential of mean `pace`, as independent buyers arrive: equal
  -- pauses kept the 100 connections in step, bursts of 100 orders at once (bench/RESULTS.md)
  if pace == 0 then return 0 end
  return math.floor(-pace * math.log(1 - math.random()))
end
local reported = 0
function response(status, headers, body)
  if status ~= 200 and reported < 3 then
    reported = reported + 1
    io.stderr:write(status .. " " .. body .. "\n")
  end
end
"""


def lua_script(api_key: str, pace_ms: int) -> str:
    order = copy.deepcopy(ORDER)
    order["order_id"] = "W-@ID@"
    order["ordered_at"] = "@AT@"
    order["buyer"]["email"] = "buyer@BUYER@@mail.example.jp"
    order["buyer"]["phone"] = "@PHONE@"
    order["billing_address"]["street"] = "桜丘町@STREET@"
    order["shipping_address"]["street"] = "桜丘町@STREET@"
    order["device_id"] = "dev-@BUYER@"
    order["ip"] = "@IP@"
    order["payment"]["card_token"] = "tok_@BUYER@"
    template = json.dumps(order, ensure_ascii=False)
    return LUA % (template, api_key, pace_ms)


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not listen on {port}")


def run_wrk(script: Path, connections: int, seconds: int) -> str:
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{PORT}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return result.stdout


def summarise_wrk(label: str, output: str) -> None:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    print(
        f"HTTP {label}: {float(rate.group(1)) if rate else 0:,.0f} req/s, p50 "
        f"{percentiles.get('50')}, p99 {percentiles.get('99')}, non-2xx "
        f"{errors.group(1) if errors else 0}",
        flush=True,
    )


def _cpu_seconds(pids: list[str], with_children: bool = False) -> float:
    """User + system CPU of ``pids`` from /proc (and of their exited children, if asked)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(field) for field in fields[11 : 15 if with_children else 13])
    return total / os.sysconf("SC_CLK_TCK")


def _pgrep(*arguments: str) -> list[str]:
    found = subprocess.run(["pgrep", *arguments], capture_output=True, text=True, check=False)
    return found.stdout.split()


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU used so far by the server's workers (its children), PostgreSQL (every process of
    it, with the backends that exited, which the postmaster reaped) and the load generator
    (this script's reaped children: the wrk runs)."""
    wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "workers": _cpu_seconds(_pgrep("-P", str(server_pid))),
        "PostgreSQL": _cpu_seconds(_pgrep("-x", "postgres"), with_children=True),
        "wrk": wrk.ru_utime + wrk.ru_stime,
    }


def requests_done(output: str) -> int:
    found = re.search(r"(\d+) requests in", output)
    return int(found.group(1)) if found else 0


def http(url: str, api_key: str, seconds: int) -> None:
    env = os.environ | {"TRUSTDESK_DATABASE_URL": url, "TRUSTDESK_ENVIRONMENT": "development"}
    server = subprocess.Popen(
        [
            *TRUSTDESK,
            "serve",
            "--workers",
            "2",
            "--port",
            str(PORT),
            "--no-worker",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_for_port(PORT)
        time.sleep(3)  # both workers up
        with tempfile.TemporaryDirectory() as folder:
            paced = Path(folder) / "paced.lua"
            # wrk waits for the answer before the pause: 100 connections each pausing 200 ms on
            # average offer at most 500 requests/s, and nearly that while answers take a few ms.
            paced.write_text(lua_script(api_key, 200), encoding="utf-8")
            run_wrk(paced, 100, 5)  # warm-up: rule sets compiled, caches filled
            flat_out = Path(folder) / "flat.lua"
            flat_out.write_text(lua_script(api_key, 0), encoding="utf-8")
            for label, script, connections in (
                ("paced (100 connections, 200 ms apart on average: <= 500 req/s)", paced, 100),
                ("unpaced (16 connections)", flat_out, 16),
            ):
                before = cpu_seconds(server.pid)
                output = run_wrk(script, connections, seconds)
                after = cpu_seconds(server.pid)
                summarise_wrk(label, output)
                done = requests_done(output)
                if done:
                    used = {name: after[name] - before[name] for name in after}
                    shares = ", ".join(
                        f"{name} {seconds_used / done * 1000:.2f} ms"
                        for name, seconds_used in used.items()
                    )
                    busy = sum(used.values()) / seconds / (os.cpu_count() or 1)
                    print(f"  CPU per request: {shares}; the cores {busy:.0%} busy", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--known", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--http", action="store_true", help="also measure over HTTP")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the known-fraud entries of an earlier run"
    )
    options = parser.parse_args()
    print(machine(), flush=True)
    now = datetime.now(UTC)
    pure_scoring(options.orders, now)
    engine, api_key, merchant_id = set_up(options.db, options.known, now, options.reuse)
    full_scoring(engine, merchant_id, options.orders, now)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(f"ANALYZE {ScoredOrder.__tablename__}"))
    if options.http:
        http(options.db, api_key, options.seconds)


if __name__ == "__main__":
    main()
