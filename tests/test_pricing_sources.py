"""Where a price comes from: the installed litellm map, the shipped snapshot, overrides, and
the upstream model of a pass-through router (openrouter), offline."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_routing import pricing
from agent_routing._litellm import litellm_module
from agent_routing.cli import main
from agent_routing.cli.prices import HOST_DEFAULT_MODELS
from agent_routing.config import PriceOverride
from agent_routing.ledger.sqlite import SQLiteLedger
from agent_routing.pricing import snapshot as price_snapshot
from agent_routing.records import CallRecord, Outcome, Usage

SHIPPED = price_snapshot.info()


@pytest.fixture
def snapshot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the snapshot at an empty directory of this test (restored afterwards)."""
    directory = tmp_path / "price_data"
    monkeypatch.setattr(price_snapshot, "DATA_DIR", directory)
    pricing.clear_caches()
    yield directory
    monkeypatch.undo()
    pricing.clear_caches()


def write_map(directory: Path, version: str, entries: dict[str, dict[str, object]]) -> None:
    price_snapshot.write_snapshot(json.dumps(entries).encode(), version, data_dir=directory)
    pricing.clear_caches()


def test_the_shipped_snapshot_records_its_version_licence_and_source() -> None:
    """The snapshot ships with its litellm version, MIT licence, copyright and entry count."""
    assert SHIPPED is not None
    assert price_snapshot.version_key(SHIPPED.litellm_version) > price_snapshot.version_key(
        pricing.installed_version()
    )
    assert SHIPPED.license == "MIT"
    assert "Berri AI" in SHIPPED.copyright
    assert SHIPPED.source_file == "litellm/model_prices_and_context_window_backup.json"
    assert SHIPPED.entries == len(price_snapshot.price_map())
    licence = (price_snapshot.DATA_DIR / price_snapshot.LICENSE_FILE).read_text()
    assert "MIT License" in licence


@pytest.mark.parametrize(("label", "model"), HOST_DEFAULT_MODELS)
def test_the_hosts_default_models_are_priced(label: str, model: str) -> None:
    """Agent Zero's default models (v1.7, v2, presets) have a price with CI's litellm pin."""
    prices = pricing.unit_prices(model)
    assert prices is not None, label
    assert prices.input > 0
    assert prices.output > 0
    assert pricing.context_window(model) is not None


def test_openrouter_names_take_the_upstream_list_price(snapshot_dir: Path) -> None:
    """openrouter/anthropic/claude-zeta-9.1, unknown under the router's name, is billed as
    Anthropic's claude-zeta-9-1 (the dashed name the map uses)."""
    entry = {
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "cache_read_input_token_cost": 3e-07,
        "litellm_provider": "anthropic",
        "mode": "chat",
        "max_input_tokens": 200_000,
    }
    write_map(snapshot_dir, "99.0.0", {"claude-zeta-9-1": entry})
    routed = pricing.unit_prices("openrouter/anthropic/claude-zeta-9.1")
    assert routed is not None
    assert routed == pricing.unit_prices("claude-zeta-9-1")
    assert (routed.model_key, routed.input, routed.cache_read) == ("claude-zeta-9-1", 3e-06, 3e-07)
    choice = pricing.price_choice("openrouter/anthropic/claude-zeta-9.1")
    assert choice is not None
    assert choice.upstream
    assert pricing.context_window("openrouter/anthropic/claude-zeta-9.1") == 200_000


def test_the_v17_defaults_are_priced_as_their_upstream_models() -> None:
    """With CI's litellm (no openrouter entry for them) the host defaults take Anthropic's and
    Google's list prices; a litellm that lists them under openrouter/ is used as it is."""
    for routed, upstream in (
        ("openrouter/anthropic/claude-sonnet-4.6", "claude-sonnet-4-6"),
        ("openrouter/google/gemini-3.1-flash-lite-preview", "gemini/gemini-3.1-flash-lite-preview"),
    ):
        choice = pricing.price_choice(routed)
        assert choice is not None
        if choice.upstream:
            assert pricing.unit_prices(routed) == pricing.unit_prices(upstream)
            assert choice.key == upstream
        else:
            assert choice.key == routed


def test_version_dots_and_dashes_are_both_tried() -> None:
    """A router name with dots finds a dashed entry and the other way round."""
    assert pricing.upstream_names("openrouter/anthropic/claude-sonnet-4.6") == (
        "anthropic/claude-sonnet-4.6",
        "anthropic/claude-sonnet-4-6",
    )
    assert "openai/gpt-5.4-mini" in pricing.upstream_names("openrouter/openai/gpt-5-4-mini")


def test_router_variants_and_unknown_organisations_are_not_guessed() -> None:
    """`:free` variants and organisations with no known provider stay unpriced."""
    assert pricing.upstream_names("openrouter/anthropic/claude-sonnet-4.6:free") == ()
    assert pricing.unit_prices("openrouter/acme/model-1") is None
    assert pricing.upstream_names("anthropic/claude-sonnet-4.6") == ()


def test_a_routers_own_entry_wins_over_the_upstream_one() -> None:
    """A model the map lists under the router's own name keeps that entry."""
    key = next(
        k
        for k in litellm_module().model_cost
        if k.startswith("openrouter/anthropic/") and pricing.unit_prices(k) is not None
    )
    choice = pricing.price_choice(key)
    assert choice is not None
    assert not choice.upstream
    assert choice.key == key


def test_a_newer_snapshot_with_other_prices_wins(snapshot_dir: Path) -> None:
    """Per model, the newest map that prices it decides; the row names the source."""
    entry = dict(litellm_module().model_cost["gpt-4o"])
    entry["input_cost_per_token"] = 1e-06
    write_map(snapshot_dir, "99.0.0", {"gpt-4o": entry})
    prices = pricing.unit_prices("gpt-4o")
    assert prices is not None
    assert (prices.source, prices.version, prices.input) == ("snapshot", "99.0.0", 1e-06)
    assert pricing.map_unit_prices("gpt-4o") != prices  # the installed map is unchanged


def test_an_older_snapshot_loses_to_the_installed_map(snapshot_dir: Path) -> None:
    """An older snapshot only prices models the installed map does not know."""
    entry = dict(litellm_module().model_cost["gpt-4o"])
    entry["input_cost_per_token"] = 1e-06
    extra = {"input_cost_per_token": 2e-06, "output_cost_per_token": 4e-06, "mode": "chat"}
    write_map(snapshot_dir, "1.0.0", {"gpt-4o": entry, "acme/brand-new": extra})
    prices = pricing.unit_prices("gpt-4o")
    assert prices is not None
    assert (prices.source, prices.version) == ("litellm", pricing.installed_version())
    fresh = pricing.unit_prices("acme/brand-new")
    assert fresh is not None
    assert (fresh.source, fresh.input, fresh.output) == ("snapshot", 2e-06, 4e-06)


def test_equal_prices_keep_litellms_own_billing(snapshot_dir: Path) -> None:
    """A newer snapshot with the same prices leaves the litellm-probed prices in place."""
    write_map(snapshot_dir, "99.0.0", {"gpt-4o": dict(litellm_module().model_cost["gpt-4o"])})
    prices = pricing.unit_prices("gpt-4o")
    assert prices is not None
    assert prices.source == "litellm"


def test_overrides_win_over_every_map() -> None:
    """A `prices:` override beats the snapshot for a routed name too."""
    model = "openrouter/anthropic/claude-sonnet-4.6"
    override = PriceOverride(input_cost_per_token=1e-06, output_cost_per_token=2e-06)
    prices = pricing.unit_prices(model, {model: override})
    assert prices is not None
    assert (prices.source, prices.input) == ("override", 1e-06)


def test_snapshot_tiers_apply_above_their_threshold() -> None:
    """Long-prompt tiers of a snapshot-priced model apply strictly above the threshold."""
    model = "openrouter/anthropic/claude-sonnet-4.6"
    choice = pricing.price_choice(model)
    assert choice is not None
    tiers = [k for k in choice.entry if k.startswith("input_cost_per_token_above_")]
    if not tiers:
        model = "gemini/gemini-2.5-pro"
        choice = pricing.price_choice(model)
        assert choice is not None
    base = pricing.unit_prices(model)
    above = pricing.unit_prices(model, input_tokens=2_000_000)
    assert base is not None
    assert above is not None
    assert above.input > base.input
    assert "@>" in above.model_key
    assert pricing.unit_prices(model, input_tokens=1_000) == base


async def test_the_ledger_records_which_source_priced_a_call(tmp_path: Path) -> None:
    """price_source and price_version (migration m008) survive a round trip."""
    prices = pricing.unit_prices("openrouter/anthropic/claude-sonnet-4.6")
    assert prices is not None
    usage = Usage(input_tokens=1_000, output_tokens=100)
    record = CallRecord(
        id="c1",
        started_at=1.0,
        model="openrouter/anthropic/claude-sonnet-4.6",
        outcome=Outcome.OK,
        usage=usage,
        prices=prices,
        cost_usd=pricing.cost_usd(usage, prices),
    )
    async with SQLiteLedger(tmp_path / "ledger.db") as ledger:
        await ledger.upsert_calls([record])
        stored = await ledger.get_call("c1")
    assert stored is not None
    assert stored.prices is not None
    assert (stored.prices.source, stored.prices.version) == (prices.source, prices.version)
    assert stored.prices.version
    assert stored.cost_usd == pytest.approx(1_000 * 3e-06 + 100 * 15e-06)


# --- refreshing the snapshot ------------------------------------------------------------------


def test_update_snapshot_from_a_map_file(snapshot_dir: Path, tmp_path: Path) -> None:
    """`prices --update-snapshot FILE --litellm-version V` installs the map with its record."""
    source = tmp_path / "map.json"
    entry = {"input_cost_per_token": 1e-06, "output_cost_per_token": 3e-06, "mode": "chat"}
    source.write_text(json.dumps({"sample_spec": {}, "acme/new-model": entry}))
    result = CliRunner().invoke(
        main,
        [
            "prices",
            "--update-snapshot",
            str(source),
            "--litellm-version",
            "9.1.0",
            "acme/new-model",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "litellm 9.1.0, 1 entries" in result.output
    assert "acme/new-model" in result.output
    meta = json.loads((snapshot_dir / price_snapshot.META_FILE).read_text())
    assert (meta["litellm_version"], meta["entries"], meta["license"]) == ("9.1.0", 1, "MIT")
    stored = json.loads(gzip.decompress((snapshot_dir / price_snapshot.MAP_FILE).read_bytes()))
    assert stored["acme/new-model"] == entry


def test_update_snapshot_from_a_litellm_wheel(snapshot_dir: Path, tmp_path: Path) -> None:
    """A wheel names its own version; its licence file is kept beside the map."""
    wheel = tmp_path / "litellm-9.2.1-py3-none-any.whl"
    entry = {"input_cost_per_token": 1e-06, "output_cost_per_token": 3e-06}
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(price_snapshot.SOURCE_FILE, json.dumps({"acme/x": entry}))
        archive.writestr("litellm-9.2.1.dist-info/licenses/LICENSE", "MIT License\nBerri AI")
    result = CliRunner().invoke(main, ["prices", "--update-snapshot", str(wheel)])
    assert result.exit_code == 0, result.output
    info = price_snapshot.info()
    assert info is not None
    assert info.litellm_version == "9.2.1"
    assert (snapshot_dir / price_snapshot.LICENSE_FILE).read_text().startswith("MIT License")


def test_a_bad_map_is_refused_naming_the_field_and_changes_nothing(
    snapshot_dir: Path, tmp_path: Path
) -> None:
    """A negative or non-numeric price names entry.field, exits 2 and writes nothing."""
    write_map(snapshot_dir, "5.0.0", {"acme/old": {"input_cost_per_token": 1e-06}})
    before = (snapshot_dir / price_snapshot.MAP_FILE).read_bytes()
    source = tmp_path / "map.json"
    bad = {"acme/x": {"input_cost_per_token": -1, "output_cost_per_token": "cheap"}}
    source.write_text(json.dumps(bad))
    result = CliRunner().invoke(
        main, ["prices", "--update-snapshot", str(source), "--litellm-version", "9.0.0"]
    )
    assert result.exit_code == 2
    assert "acme/x.input_cost_per_token" in result.stderr
    assert "acme/x.output_cost_per_token" in result.stderr
    assert "Traceback" not in result.output
    assert (snapshot_dir / price_snapshot.MAP_FILE).read_bytes() == before
    missing_version = CliRunner().invoke(main, ["prices", "--update-snapshot", str(source)])
    assert missing_version.exit_code == 2


def test_host_defaults_option_lists_them_all() -> None:
    """`prices --host-defaults --json` prices every default model of v1.7 and v2."""
    result = CliRunner().invoke(main, ["prices", "--host-defaults", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["models"]
    assert [row["model"] for row in rows] == [model for _, model in HOST_DEFAULT_MODELS]
    assert all(row["known"] and row["input"] > 0 for row in rows)
    assert {row["source"] for row in rows} <= {"litellm", "snapshot"}


def test_range_priced_snapshot_entries_bill_each_range(snapshot_dir: Path) -> None:
    """An entry priced only by `tiered_pricing` ranges bills each prompt at its range."""
    ranges = [
        {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "range": [0, 32000.0]},
        {"input_cost_per_token": 2e-06, "output_cost_per_token": 4e-06, "range": [32000, 128000]},
        {"input_cost_per_token": 3e-06, "output_cost_per_token": 6e-06, "range": [128000, 1e6]},
    ]
    write_map(snapshot_dir, "99.0.0", {"acme/ranged": {"tiered_pricing": ranges, "mode": "chat"}})
    seen = {}
    for prompt in (1_000, 32_000, 50_000, 200_000):
        prices = pricing.unit_prices("acme/ranged", input_tokens=prompt)
        assert prices is not None
        seen[prompt] = (prices.input, prices.output)
    assert seen == {
        1_000: (1e-06, 2e-06),
        32_000: (1e-06, 2e-06),
        50_000: (2e-06, 4e-06),
        200_000: (3e-06, 6e-06),
    }
