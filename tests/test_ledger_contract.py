"""The ledger contract under real concurrency, on every backend (SQLite file, PostgreSQL server).

Each test runs real processes against one ledger named by its URL, opened through the
backend registry exactly as capture, the plugin and the CLI open it.
"""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from backend_sql import fetch, scalar

from agent_routing.config import LedgerSettings
from agent_routing.ledger import LedgerWriter, SpendWindow, ledger_for, run_sync
from agent_routing.ledger.urls import parse_ledger_url
from agent_routing.pricing import litellm_cost, unit_prices
from agent_routing.records import CallRecord, Outcome, Usage

pytestmark = pytest.mark.slow


def run_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_ready(processes: list[subprocess.Popen[str]], timeout: float = 120.0) -> None:
    """Block until every racer printed "ready" (imported, ledger open, waiting for the start
    signal), so releasing them with one start file makes them truly race."""
    deadline = time.monotonic() + timeout
    for process in processes:
        assert process.stdout is not None
        left = max(0.0, deadline - time.monotonic())
        # a selector, not select.select: a long test run may hold descriptors above 1024
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            readable = selector.select(left)
        assert readable, f"a racer was not ready within {timeout} s"
        line = process.stdout.readline()
        if line.strip() != "ready":
            process.wait(timeout=30)
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"racer said {line!r} instead of ready: {stderr}")


def start_racers(code: str, argvs: list[list[str]], go: Path) -> list[subprocess.Popen[str]]:
    """Start one child per argv, wait for all their ready lines, then release them at once."""
    processes = [run_child(code, *argv) for argv in argvs]
    try:
        wait_until_ready(processes)
    except BaseException:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
        raise
    go.touch()
    return processes


def create(url: str) -> None:
    async def open_and_close() -> None:
        ledger = ledger_for(path=url)
        await ledger.open()
        await ledger.close()

    run_sync(open_and_close())


USAGES = [(1200, 300), (800, 0), (5000, 1024)]

WRITER = """
import json, sys, time
from agent_routing.config import LedgerSettings
from agent_routing.ledger import get_writer
from agent_routing.pricing import cost_usd
from agent_routing.records import CallRecord, Outcome, UnitPrices, Usage
url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
prices = UnitPrices(**json.loads(sys.argv[4]))
usages = json.loads(sys.argv[5])
writer = get_writer(url, LedgerSettings(flush_interval_ms=50, batch_size=500))
for i in range(count):
    record_id = f"{tag}-{i:06d}"
    writer.submit(CallRecord(id=record_id, started_at=time.time(), model="gpt-4o-mini",
                             outcome=Outcome.PENDING, usage=Usage(usages[i % 3][0])))
    usage = Usage(*usages[i % 3])
    writer.submit(CallRecord(id=record_id, started_at=time.time(), model="gpt-4o-mini",
                             outcome=Outcome.OK, usage=usage, prices=prices,
                             cost_usd=cost_usd(usage, prices)))
    if i % 10 == 0:  # a repeated end event: must merge, not duplicate or double the cost
        writer.submit(CallRecord(id=record_id, started_at=time.time(), model="gpt-4o-mini",
                                 outcome=Outcome.OK, usage=usage, prices=prices,
                                 cost_usd=cost_usd(usage, prices)))
assert writer.flush(timeout=120)
print(writer.stats().committed)
"""


def test_eight_processes_write_exactly_once_at_litellms_cost(ledger_url: str) -> None:
    """8 writer processes x 2,000 calls (two or three events each) into one ledger: exactly
    16,000 rows, every id once, and the total cost equals litellm's for the same usage."""
    create(ledger_url)
    prices = unit_prices("gpt-4o-mini")
    assert prices is not None
    prices_json = json.dumps(
        {"input": prices.input, "output": prices.output, "source": prices.source}
    )
    per_process = 2000
    processes = [
        run_child(WRITER, ledger_url, f"p{n}", str(per_process), prices_json, json.dumps(USAGES))
        for n in range(8)
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert int(out) == 2 * per_process + per_process // 10
    rows = fetch(ledger_url, "SELECT id FROM calls")
    ids = [row[0] for row in rows]
    assert len(ids) == 8 * per_process
    assert set(ids) == {f"p{n}-{i:06d}" for n in range(8) for i in range(per_process)}
    assert scalar(ledger_url, "SELECT COUNT(*) FROM calls WHERE outcome = 'ok'") == len(ids)
    expected = 8 * sum(
        litellm_cost("gpt-4o-mini", Usage(*USAGES[i % 3])) for i in range(per_process)
    )
    stored = scalar(ledger_url, "SELECT SUM(cost_usd) FROM calls")
    assert stored == pytest.approx(expected, rel=1e-9)
    assert scalar(ledger_url, "SELECT SUM(cost_usd) FROM spend_buckets") == pytest.approx(
        expected, rel=1e-9
    )


CRASHING_WRITER = """
import sys, time
from agent_routing.config import LedgerSettings
from agent_routing.ledger import get_writer
from agent_routing.records import CallRecord
writer = get_writer(sys.argv[1], LedgerSettings(flush_interval_ms=5, batch_size=50))
n = 0
while True:
    ids = [f"k-{n + i}" for i in range(25)]
    for record_id in ids:
        writer.submit(CallRecord(id=record_id, started_at=time.time(), model="m"))
    n += 25
    if writer.flush(timeout=30):
        print(" ".join(ids), flush=True)
"""


def test_sigkill_mid_write_keeps_every_acknowledged_call(ledger_url: str) -> None:
    """A writer killed with SIGKILL while writing leaves every call whose flush returned."""
    create(ledger_url)
    child = run_child(CRASHING_WRITER, ledger_url)
    acknowledged: set[str] = set()
    assert child.stdout is not None
    while len(acknowledged) < 1500:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "writer exited"
        acknowledged.update(line.split())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    if parse_ledger_url(ledger_url).path is not None:
        assert scalar(ledger_url, "PRAGMA integrity_check") == "ok"
    stored = {row[0] for row in fetch(ledger_url, "SELECT id FROM calls")}
    assert acknowledged <= stored


ESTIMATE = 0.03
ACTUAL = 0.025
CAP = 1.0

CHECKER = f"""
import asyncio, json, sys, time
from pathlib import Path
from agent_routing.budgets import Budgets
from agent_routing.config import BudgetConfig, Settings
from agent_routing.ledger import ledger_for

async def main():
    url, go = sys.argv[1], Path(sys.argv[2])
    settings = Settings(budgets=[BudgetConfig(scope="daily", limit_usd={CAP})])
    ledger = ledger_for(path=url)
    await ledger.open()
    try:
        budgets = Budgets(ledger, settings, estimate_cost=lambda *_: {ESTIMATE})
        print("ready", flush=True)
        while not go.exists():
            await asyncio.sleep(0.005)
        verdicts = await asyncio.gather(*(
            budgets.check(model="gpt-4o-mini", conversation_id=f"c{{n}}", input_tokens=500)
            for n in range(25)
        ))
    finally:
        await ledger.close()
    print(json.dumps([[v.action, v.reservation_id] for v in verdicts]))

asyncio.run(main())
"""


def test_budget_race_never_overspends(ledger_url: str, tmp_path: Path) -> None:
    """100 concurrent checks from 4 processes against a $1 block cap: exactly 33 x $0.03
    reserved (overspend 0 <= one estimate); once the calls settle at their real cost,
    spend is exactly the sum of those costs and every reservation is settled."""
    create(ledger_url)
    go = tmp_path / "go"
    processes = start_racers(CHECKER, [[ledger_url, str(go)]] * 4, go)
    verdicts: list[tuple[str, str | None]] = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        verdicts.extend((action, rid) for action, rid in json.loads(out))
    allowed = [rid for action, rid in verdicts if action == "allow"]
    assert len(verdicts) == 100
    assert len(allowed) == int(CAP / ESTIMATE)
    held = scalar(ledger_url, "SELECT SUM(amount_usd) FROM reservations WHERE status = 'open'")
    assert held <= CAP + 1e-9

    writer = LedgerWriter(
        Path("contract"),
        LedgerSettings(flush_interval_ms=10),
        ledger_factory=lambda: ledger_for(path=ledger_url),
    )
    for index, rid in enumerate(allowed):
        writer.submit(
            CallRecord(
                id=f"call-{index}",
                started_at=time.time(),
                model="gpt-4o-mini",
                reservation_id=rid,
                outcome=Outcome.OK,
                cost_usd=ACTUAL,
            )
        )
    assert writer.close(timeout=60)

    async def spent() -> float:
        ledger = ledger_for(path=ledger_url)
        await ledger.open()
        try:
            return await ledger.spent_usd(SpendWindow(), now=time.time())
        finally:
            await ledger.close()

    assert run_sync(spent()) == pytest.approx(len(allowed) * ACTUAL, abs=1e-12)
    statuses = dict(fetch(ledger_url, "SELECT status, COUNT(*) FROM reservations GROUP BY status"))
    assert statuses == {"settled": len(allowed)}


BURSTER = """
import asyncio, json, sys
from pathlib import Path
from agent_routing.ledger import ledger_for
from agent_routing.records import CallRecord, Outcome, Usage
import time

async def main():
    url, tag, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    ledger = ledger_for(path=url)
    await ledger.open()
    try:
        print("ready", flush=True)
        while not go.exists():
            await asyncio.sleep(0.005)
        await asyncio.gather(*(
            ledger.upsert_calls([CallRecord(id=f"{tag}-{n}", started_at=time.time(),
                                            model="gpt-4o-mini", provider="openai",
                                            outcome=Outcome.OK, usage=Usage(100, 10))])
            for n in range(50)
        ))
        totals = await ledger.usage_totals(since=time.time() - 60, until=None,
                                           model="gpt-4o-mini")
    finally:
        await ledger.close()
    print(totals.requests)

asyncio.run(main())
"""


def test_quota_bursts_count_every_request_across_processes(ledger_url: str, tmp_path: Path) -> None:
    """A burst of 4 x 50 concurrent calls from 4 processes: the quota counters (requests and
    tokens of the last minute) see every one of them, once, on every backend."""
    create(ledger_url)
    go = tmp_path / "go"
    processes = start_racers(BURSTER, [[ledger_url, f"b{n}", str(go)] for n in range(4)], go)
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        assert 50 <= int(out) <= 200  # each saw at least its own burst

    async def totals() -> tuple[int, int]:
        ledger = ledger_for(path=ledger_url)
        await ledger.open()
        try:
            usage = await ledger.usage_totals(
                since=time.time() - 600, until=None, provider="openai"
            )
        finally:
            await ledger.close()
        return usage.requests, usage.tokens

    assert run_sync(totals()) == (200, 200 * 110)


MIGRATOR = """
import asyncio, sys
from pathlib import Path
from agent_routing.ledger import ledger_for

async def main():
    url, go = sys.argv[1], Path(sys.argv[2])
    print("ready", flush=True)  # imported; the ledger is opened only once all race
    while not go.exists():
        await asyncio.sleep(0.002)
    ledger = ledger_for(path=url)
    await ledger.open()
    await ledger.close()
    print("ok")

asyncio.run(main())
"""


def test_processes_migrating_a_fresh_ledger_at_once_are_safe(
    ledger_url: str, tmp_path: Path
) -> None:
    """6 processes open one blank ledger at the same moment: all succeed, and every
    migration is applied exactly once."""
    go = tmp_path / "go"
    processes = start_racers(MIGRATOR, [[ledger_url, str(go)]] * 6, go)
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        assert out.strip() == "ok"
    names = [row[0] for row in fetch(ledger_url, "SELECT name FROM _routing_migrations")]
    assert len(names) == len(set(names))
    assert {"m001_calls", "m006_spend_buckets", "m007_pending_index"} <= set(names)


QUOTA_CHECKER = """
import asyncio, json, sys
from pathlib import Path
from agent_routing.budgets import Budgets
from agent_routing.config import QuotaConfig, Settings
from agent_routing.ledger import ledger_for

async def main():
    url, go = sys.argv[1], Path(sys.argv[2])
    settings = Settings(quotas=[QuotaConfig(model="gpt-4o-mini", unit="requests",
                                            period="minute", limit=10)])
    ledger = ledger_for(path=url)
    await ledger.open()
    try:
        budgets = Budgets(ledger, settings, provider_of=lambda _: "openai")
        print("ready", flush=True)
        while not go.exists():
            await asyncio.sleep(0.005)
        answers = await asyncio.gather(
            *(budgets.quota_available("gpt-4o-mini") for _ in range(10))
        )
    finally:
        await ledger.close()
    print(json.dumps(answers))

asyncio.run(main())
"""


def test_quota_burst_from_several_processes_admits_exactly_the_limit(
    ledger_url: str, tmp_path: Path
) -> None:
    """10 requests/minute, 40 concurrent checks from 4 processes: exactly 10 admitted, on
    each backend (the check and its hold are one atomic step)."""
    create(ledger_url)
    go = tmp_path / "go"
    processes = start_racers(QUOTA_CHECKER, [[ledger_url, str(go)]] * 4, go)
    answers: list[bool] = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        answers.extend(json.loads(out))
    assert len(answers) == 40
    assert answers.count(True) == 10
