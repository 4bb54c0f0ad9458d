"""Money under ledger faults: a ledger that cannot be opened refuses calls under a block
budget on every path (plugin, router, quotas), at once, without leaking connections."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fakehost import FakeHost, fake_host, respond

from agent_routing.budgets.guard import PerLoopBudgets, stored_budgets_readonly
from agent_routing.config import BudgetConfig, QuotaConfig, Settings, TierConfig
from agent_routing.errors import BudgetBlockedError
from agent_routing.host.failures import BLOCK_HEADING
from agent_routing.ledger import LedgerError, SQLiteLedger, run_sync
from agent_routing.router import Router, RouteRequest

__all__ = ["fake_host"]

BLOCK = {"scope": "daily", "limit_usd": 1e-5, "enforcement": "block"}


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database, it is a text file\n" * 20)
    return path


def _unwritable_wal(path: Path) -> Path:
    """A ledger location where SQLite cannot create the write-ahead log: the `-wal` path is
    a directory. It fails as a read-only location does, also for root (tests run as root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}-wal").mkdir()
    return path


def _settings(path: Path, **sections: object) -> Settings:
    return Settings.model_validate({"ledger": {"path": str(path)}, **sections})


class _CountingOpens:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.opens = 0

    def __call__(self) -> SQLiteLedger:
        self.opens += 1
        return SQLiteLedger(self.path)


async def test_a_garbage_ledger_stops_a_real_turn_under_a_block_budget(
    fake_host: FakeHost, isolated_home: Path
) -> None:
    """A garbage ledger file and a $0.00001 daily block budget: no chat and no utility call
    reaches the provider (before: 1 chat and 3 utility calls went ahead unreserved)."""
    _garbage(isolated_home / "ledger.db")
    fake_host.configure({"budgets": [BLOCK]})
    fake_host.provider.script_main(respond("never sent"))
    context = fake_host.new_context()
    assert await fake_host.send(context, "What is 2+2?") is None
    assert fake_host.provider.calls == []
    errors = [item for item in context.log.logs if item.type == "error"]
    assert [item.heading for item in errors] == [BLOCK_HEADING]
    assert "cannot be opened" in errors[0].content


async def test_a_garbage_ledger_without_budgets_lets_the_turn_run(
    fake_host: FakeHost, isolated_home: Path
) -> None:
    """Routing fails open: with no budget, a broken ledger does not stop the agent."""
    _garbage(isolated_home / "ledger.db")
    fake_host.configure({})
    fake_host.provider.script_main(respond("4"))
    assert await fake_host.send(fake_host.new_context(), "What is 2+2?") == "4"


@pytest.mark.parametrize("breaking", ["garbage", "unwritable_wal", "file_as_folder"])
def test_every_check_under_a_block_budget_is_refused_and_opens_once(
    tmp_path: Path, breaking: str
) -> None:
    """Garbage file, a location where the log cannot be written, a folder that is a file:
    20 checks are all refused, and the ledger is tried once, not once per check."""
    path = {
        "garbage": _garbage(tmp_path / "ledger.db"),
        "unwritable_wal": _unwritable_wal(tmp_path / "ledger.db"),
        "file_as_folder": tmp_path / "a-file" / "ledger.db",
    }[breaking]
    (tmp_path / "a-file").write_text("not a folder")
    opens = _CountingOpens(path)
    guard = PerLoopBudgets(_settings(path, budgets=[BLOCK]), ledger_factory=opens)

    async def checks() -> list[str]:
        out = []
        for _ in range(20):
            verdict = await guard.check(model="gpt-4o-mini", conversation_id="c", input_tokens=100)
            out.append(verdict.action)
        return out

    assert run_sync(checks()) == ["block"] * 20
    assert opens.opens == 1


def test_opening_a_read_only_location_fails_without_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log that cannot be created is an error at the first try: the WAL switch retries
    only a lock (before: 50 retries, 25 s per open, 74 s per routing decision)."""
    import agent_routing.ledger.sqlite._connection as base

    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(base.asyncio, "sleep", counting_sleep)
    ledger = SQLiteLedger(_unwritable_wal(tmp_path / "ledger.db"))
    with pytest.raises(LedgerError, match=r"ledger\.db"):
        run_sync(ledger.open())
    assert sleeps == []


def test_budgets_stored_in_an_unopenable_ledger_still_count(tmp_path: Path) -> None:
    """A real ledger holding a stored block budget, then made unopenable: its budget is
    still read (read-only) and refuses the call; without budgets the call goes ahead."""
    path = tmp_path / "ledger.db"

    async def store() -> None:
        async with SQLiteLedger(path) as ledger:
            await ledger.save_budget(BudgetConfig(scope="daily", limit_usd=5.0))

    run_sync(store())
    _unwritable_wal(path)
    assert [b.key for b in stored_budgets_readonly(path) or []] == ["daily:*"]
    guard = PerLoopBudgets(_settings(path))
    verdict = run_sync(guard.check(model="gpt-4o", conversation_id=None, input_tokens=10))
    assert verdict.action == "block"
    assert "daily:*" in verdict.reason


def test_unreadable_stored_budgets_refuse_every_call(tmp_path: Path) -> None:
    """An SQLite file whose content cannot be read may hold block budgets: refuse."""
    path = tmp_path / "ledger.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    guard = PerLoopBudgets(_settings(path))
    verdict = run_sync(guard.check(model="gpt-4o", conversation_id=None, input_tokens=10))
    assert verdict.action == "block"
    assert "cannot be read" in verdict.reason


def test_a_missing_unwritable_ledger_without_budgets_allows(tmp_path: Path) -> None:
    """No ledger can exist under a file: nothing stored, no budget, the call goes ahead."""
    (tmp_path / "a-file").write_text("x")
    guard = PerLoopBudgets(_settings(tmp_path / "a-file" / "ledger.db"))
    verdict = run_sync(guard.check(model="gpt-4o", conversation_id=None, input_tokens=10))
    assert verdict.action == "allow"


def test_the_router_refuses_under_a_block_budget_with_a_garbage_ledger(tmp_path: Path) -> None:
    """The router's walk and its fail-open pass-through both refuse (before: the
    pass-through logged "not enforced" and let the call through)."""
    path = _garbage(tmp_path / "ledger.db")
    settings = _settings(
        path,
        budgets=[BLOCK],
        tiers=[
            TierConfig(name="cheap", model="gpt-4o-mini"),
            TierConfig(name="strong", model="gpt-4o"),
        ],
    )
    router = Router(settings, budgets=PerLoopBudgets(settings))
    with pytest.raises(BudgetBlockedError, match="cannot be opened"):
        run_sync(router.route(RouteRequest(prompt="hello", conversation_id="c")))


def test_the_router_refuses_when_the_budget_check_itself_raises(tmp_path: Path) -> None:
    """A budget guard that raises is a budget that cannot be checked: the call is refused."""

    class Broken(PerLoopBudgets):
        async def check(self, **kwargs: object) -> object:  # type: ignore[override]
            raise RuntimeError("disk on fire")

    settings = _settings(tmp_path / "ledger.db")
    router = Router(settings, budgets=Broken(settings))
    with pytest.raises(BudgetBlockedError, match="fail closed"):
        run_sync(router.route(RouteRequest(prompt="hello", configured_model="gpt-4o")))


def test_quotas_are_unavailable_when_the_ledger_cannot_be_opened(tmp_path: Path) -> None:
    """A quota that cannot be measured says "unavailable"; models without one stay free."""
    path = _garbage(tmp_path / "ledger.db")
    quota = QuotaConfig(model="gpt-4o-mini", unit="requests", period="minute", limit=10)
    guard = PerLoopBudgets(_settings(path, quotas=[quota.model_dump()]))
    assert run_sync(guard.quota_available("gpt-4o-mini")) is False
    assert run_sync(guard.quota_available("gpt-4o")) is True


def _open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_two_hundred_event_loops_leave_bounded_threads_and_files(tmp_path: Path) -> None:
    """200 event loops each checking a budget: the connections of closed loops are closed
    (before: 200 loops left 201 threads and 407 file descriptors)."""
    path = tmp_path / "ledger.db"

    async def create() -> None:
        async with SQLiteLedger(path):
            pass

    run_sync(create())
    guard = PerLoopBudgets(_settings(path, budgets=[{"scope": "daily", "limit_usd": 100.0}]))

    async def one_check() -> None:
        verdict = await guard.check(model="gpt-4o-mini", conversation_id="c", input_tokens=10)
        assert verdict.action == "allow"

    asyncio.run(one_check())
    threads_before = threading.active_count()
    fds_before = _open_files()
    for _ in range(200):
        asyncio.run(one_check())
    assert guard.open_connections() <= 1
    assert threading.active_count() <= threads_before + 2
    assert _open_files() <= fds_before + 6


def _files_open_at(path: Path) -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if str(fd.resolve()) == str(path))


def test_a_reset_runtime_closes_its_budget_connections(tmp_path: Path) -> None:
    """The plugin's runtime, reset (tests, re-pointing the ledger), closes the per-loop
    budget connections it held while their loops still run: no ledger file stays open
    (before: every fake-host test left its ledger open, 1,199 files after the slow tests)."""
    from agent_routing.host._runtime import LoopLocalBudgets, PluginRuntime, _current, reset_runtime
    from agent_routing.router import CooldownRegistry

    path = tmp_path / "ledger.db"
    settings = _settings(path, budgets=[{"scope": "daily", "limit_usd": 100.0}])
    budgets = LoopLocalBudgets(settings)
    _current.runtime = PluginRuntime(
        settings=settings,
        digest="test",
        capture=None,
        budgets=budgets,
        cooldowns=CooldownRegistry(),
        config_error=None,
    )

    async def check_then_reset() -> tuple[int, int]:
        await budgets.check(model="gpt-4o-mini", conversation_id="c", input_tokens=10)
        opened = _files_open_at(path)
        reset_runtime(timeout=1.0)
        await asyncio.sleep(0.2)  # the connection's worker thread closes the file
        return opened, _files_open_at(path)

    opened, after = asyncio.run(check_then_reset())
    assert opened >= 1
    assert after == 0
    assert budgets.open_connections() == 0
