"""Duel mode: share and budget respected, both outcomes recorded, refits kept only when better."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from agent_routing.analyzer._text import Hashing, TextAnalyzer, save_text_model, untrained_model
from agent_routing.analyzer.learning import refit_text_from_ledger
from agent_routing.analyzer.registry import build_analyzer, text_model_path
from agent_routing.config import DuelConfig, Settings, settings_from_mapping
from agent_routing.ledger import get_writer, ledger_for, run_sync
from agent_routing.protocols import AnalysisRequest
from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal
from agent_routing.router.duel import (
    DUEL_STRATEGY,
    DuelAnswer,
    DuelBudget,
    Duels,
    parse_judge_reply,
    verdict_by_signals,
)


class ListSink:
    """Collects what a duel submits (the CallSink interface)."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.decisions: list[DecisionRecord] = []

    def submit(self, record: CallRecord) -> None:
        self.calls.append(record)

    def submit_decision(self, decision: DecisionRecord) -> None:
        self.decisions.append(decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        raise AssertionError("a duel writes no signals")

    def flush(self, timeout: float | None = None) -> bool:
        return True


def routed(decision_id: str, features: dict[str, float] | None = None) -> DecisionRecord:
    """A decision that sent a call to the cheap tier."""
    return DecisionRecord(
        id=decision_id,
        created_at=0.0,
        conversation_id="c1",
        agent_no=0,
        call_kind="chat",
        strategy="balanced",
        chosen_tier="cheap",
        chosen_model="gpt-4o-mini",
        configured_model="gpt-4o",
        score=0.2,
        extra={"features": features or {"prior_logit": 0.0}, "tier_index": 0},
    )


def test_duels_a_share_of_cheap_calls_drawn_independently_of_the_score(tmp_path: Path) -> None:
    """About `share` of cheap calls are dueled; never a call on a higher tier or when off."""
    config = DuelConfig(enabled=True, share=0.3, budget_usd=1e9)
    duels = Duels(config, budget=DuelBudget(config, tmp_path / "s.json"), rng=random.Random(1))
    chosen = sum(duels.wants(tier_index=0, tier_count=2, estimate_usd=0.01) for _ in range(2000))
    assert 520 <= chosen <= 680  # 600 expected; binomial sd 20
    assert not any(duels.wants(tier_index=1, tier_count=2, estimate_usd=0.0) for _ in range(200))
    off = Duels(DuelConfig(enabled=False, share=1.0), budget=DuelBudget(config, tmp_path / "o"))
    assert not off.wants(tier_index=0, tier_count=2, estimate_usd=0.0)


async def test_duel_budget_stops_duels_and_counts_actual_costs(tmp_path: Path) -> None:
    """Reservations stop at the limit; settled costs replace estimates and keep counting."""
    config = DuelConfig(enabled=True, share=1.0, budget_usd=1.0)
    budget = DuelBudget(config, tmp_path / "state.json")
    duels = Duels(config, budget=budget, sink=ListSink())
    wanted = [duels.wants(tier_index=0, tier_count=3, estimate_usd=0.3) for _ in range(5)]
    assert wanted == [True, True, True, False, False]

    async def strong() -> DuelAnswer:
        return DuelAnswer(model="gpt-4o", text="ok", cost_usd=0.05)

    cheap = DuelAnswer(model="gpt-4o-mini", text="ok")
    for index in range(3):
        await duels.run(decision=routed(f"d{index}"), prompt="p", cheap=cheap,
                        strong_tier="strong", call_other=strong, estimate_usd=0.3)  # fmt: skip
    state = budget.state()
    assert round(state.spent_usd, 6) == 0.15
    assert state.reserved_usd == 0.0
    # Actual costs were lower than the estimates, so there is room again, up to the limit.
    assert duels.wants(tier_index=0, tier_count=3, estimate_usd=0.8) is True
    assert duels.wants(tier_index=0, tier_count=3, estimate_usd=0.1) is False


async def test_duel_budget_fails_closed_on_an_unreadable_state_file(tmp_path: Path) -> None:
    """A corrupt budget file means no duel (money fails closed)."""
    path = tmp_path / "state.json"
    path.write_text("{not json")
    config = DuelConfig(enabled=True, share=1.0, budget_usd=100.0)
    duels = Duels(config, budget=DuelBudget(config, path))
    assert duels.wants(tier_index=0, tier_count=2, estimate_usd=0.0) is False


async def test_duel_records_both_outcomes_and_the_strong_call_in_a_real_ledger(
    tmp_path: Path,
) -> None:
    """The ledger gets the duel decision (both answers, verdict, benefit) and the call's cost."""
    db = tmp_path / "ledger.db"
    settings = settings_from_mapping({"ledger": {"path": str(db)}})
    writer = get_writer(db, settings.ledger)
    config = DuelConfig(enabled=True, share=1.0, budget_usd=5.0)
    duels = Duels(config, sink=writer, budget=DuelBudget(config, tmp_path / "s.json"))

    async def strong() -> DuelAnswer:
        return DuelAnswer(model="gpt-4o", text='{"tool_name": "x"}', tool_call_parsed=True,
                          cost_usd=0.02)  # fmt: skip

    cheap = DuelAnswer(model="gpt-4o-mini", text="I think", tool_call_parsed=False)
    result = await duels.run(decision=routed("routed-1"), prompt="do it", cheap=cheap,
                             strong_tier="strong", call_other=strong, estimate_usd=0.1)  # fmt: skip
    assert writer.flush(timeout=30)

    async def read() -> list[DecisionRecord]:
        ledger = ledger_for(settings.ledger, db)
        await ledger.open()
        try:
            return await ledger.query_decisions()
        finally:
            await ledger.close()

    (stored,) = [d for d in run_sync(read()) if d.strategy == DUEL_STRATEGY]
    assert stored.id == result.duel_id
    assert stored.extra["duel_of"] == "routed-1"
    assert stored.extra["cheap"]["model"] == "gpt-4o-mini"
    assert stored.extra["cheap"]["tool_call_parsed"] is False
    assert stored.extra["strong"]["model"] == "gpt-4o"
    assert stored.extra["strong"]["cost_usd"] == 0.02
    assert stored.extra["verdict"]["judged_by"] == "signals"
    assert stored.extra["benefit"] == 1
    assert stored.applied is False


async def test_judge_model_decides_when_signals_cannot(tmp_path: Path) -> None:
    """Plain answers go to the judge; its one-word reply sets the label; no judge, no label."""
    config = DuelConfig(enabled=True, share=1.0, budget_usd=5.0)
    duels = Duels(config, budget=DuelBudget(config, tmp_path / "s.json"))
    asked: list[list[dict[str, str]]] = []

    async def strong() -> DuelAnswer:
        return DuelAnswer(model="gpt-4o", text="Paris")

    async def judge(messages: list[dict[str, str]]) -> str:
        asked.append(messages)
        return "B"

    cheap = DuelAnswer(model="gpt-4o-mini", text="Lyon")
    judged = await duels.run(decision=routed("a"), prompt="Capital of France?", cheap=cheap,
                             strong_tier="strong", call_other=strong, judge=judge)  # fmt: skip
    assert judged.verdict.judged_by == "judge"
    assert judged.verdict.benefit == 1
    assert "Capital of France?" in asked[0][1]["content"]
    unjudged = await duels.run(decision=routed("b"), prompt="x", cheap=cheap,
                               strong_tier="strong", call_other=strong)  # fmt: skip
    assert unjudged.verdict.benefit is None
    assert parse_judge_reply("neither.") == (False, False)
    assert parse_judge_reply("maybe") is None
    ok = DuelAnswer(model="m", text="{}", tool_call_parsed=True, tool_succeeded=True)
    verdict = verdict_by_signals(ok, DuelAnswer(model="s", text=""))
    assert verdict is not None
    assert verdict.cheap_ok is True


DETAILS = ("compute the integral of x^2", "list three colours", "explain why the sky is blue",
           "translate hello", "prove that 17 is prime")  # fmt: skip
PROMPTS = [f"{random.Random(i).choice(DETAILS)} case {i}" for i in range(240)]


async def ledger_of_duels(db: Path, settings: Settings, label_of) -> None:  # type: ignore[no-untyped-def]
    """Duel records for PROMPTS, features from the text analyzer, benefit from `label_of`."""
    writer = get_writer(db, settings.ledger)
    config = DuelConfig(enabled=True, share=1.0, budget_usd=1e6)
    duels = Duels(config, sink=writer, budget=DuelBudget(config, db.parent / "s.json"))
    analyzer = TextAnalyzer()
    rng = random.Random(5)
    for index in range(240):
        words = rng.choice(["zebra", "harbour", "meadow"]) + " " + PROMPTS[index]
        analysis = analyzer.analyze(AnalysisRequest(prompt=words))
        benefit = label_of(words, analysis.score)

        async def strong() -> DuelAnswer:
            return DuelAnswer(model="gpt-4o", text="{}", tool_call_parsed=True)

        cheap = DuelAnswer(model="gpt-4o-mini", text="", tool_call_parsed=not benefit,
                           tool_succeeded=True if not benefit else None)  # fmt: skip
        await duels.run(decision=routed(f"r{index}", dict(analysis.features)), prompt=words,
                        cheap=cheap, strong_tier="strong", call_other=strong)  # fmt: skip
    assert writer.flush(timeout=30)


def text_settings(db: Path, **duel: object) -> Settings:
    """Settings routing with the text analyzer and duel mode on."""
    return settings_from_mapping(
        {"ledger": {"path": str(db)},
         "router": {"analyzer": "text", "duel": {"enabled": True, **duel}}}
    )  # fmt: skip


async def test_refit_from_duels_replaces_the_model_when_it_is_better(tmp_path: Path) -> None:
    """Labels the prior cannot see (a word) are learned; the router then loads the new model."""
    db = tmp_path / "ledger.db"
    settings = text_settings(db)
    await ledger_of_duels(db, settings, lambda words, score: words.startswith("zebra"))
    report = refit_text_from_ledger(None, settings)
    assert report.labelled == 240
    assert report.new_auc is not None
    assert report.current_auc is not None
    assert report.new_auc > 0.9 > report.current_auc
    assert report.replaced is True
    assert report.out_path == text_model_path()
    loaded = build_analyzer(settings)
    assert isinstance(loaded, TextAnalyzer)
    assert loaded.model.model_version == report.new_version


async def test_a_refit_keeps_the_current_models_text_features(tmp_path: Path) -> None:
    """A model fit with non-default hashing (window, context) is refit with the same, so the
    new model reads the same text the current one does (not the defaults)."""
    db = tmp_path / "ledger.db"
    settings = text_settings(db)
    custom = Hashing(bits=18, head_chars=600, tail_chars=100, context_messages=0)
    save_text_model(dataclasses.replace(untrained_model(), hashing=custom), text_model_path())
    await ledger_of_duels(db, settings, lambda words, score: words.startswith("zebra"))
    report = refit_text_from_ledger(None, settings)
    assert report.replaced is True
    loaded = build_analyzer(settings)
    assert isinstance(loaded, TextAnalyzer)
    assert loaded.model.hashing == custom


async def test_a_refit_that_is_not_better_is_not_used(tmp_path: Path) -> None:
    """When the current model already ranks the duels perfectly, nothing is saved or loaded."""
    db = tmp_path / "ledger.db"
    settings = text_settings(db)
    scores = sorted(TextAnalyzer().analyze(AnalysisRequest(prompt=p)).score for p in PROMPTS)
    await ledger_of_duels(db, settings, lambda words, score: score > scores[120])
    report = refit_text_from_ledger(None, settings)
    assert report.current_auc == 1.0  # the prior is exactly the labelling rule
    assert report.replaced is False
    assert "the current model stays" in report.reason
    assert not text_model_path().exists()
    loaded = build_analyzer(settings)
    assert isinstance(loaded, TextAnalyzer)
    assert loaded.model.model_version == untrained_model().model_version


async def test_shadow_refit_shows_what_the_new_model_would_do_and_never_switches(
    tmp_path: Path,
) -> None:
    """Shadow mode writes the candidate beside the model and reports both models' choices."""
    db = tmp_path / "ledger.db"
    settings = text_settings(db, shadow=True)
    await ledger_of_duels(db, settings, lambda words, score: words.startswith("zebra"))
    report = refit_text_from_ledger(None, settings)
    assert report.shadow is True
    assert report.replaced is False
    assert report.out_path is not None
    assert report.out_path.name.endswith(".shadow.json")
    assert report.out_path.exists()
    assert not text_model_path().exists()
    assert set(report.would_send_strong) == {"current", "new"}
    # The candidate catches the benefit with fewer strong calls than the prior would make.
    sent, caught = report.would_send_strong, report.would_capture_benefit
    assert caught["new"] >= 0.9
    assert caught["new"] / sent["new"] > caught["current"] / max(sent["current"], 1e-9)


async def test_a_duel_records_the_gain_of_each_verdict(tmp_path: Path) -> None:
    """Judge replies map to gains (only strong good 1, only cheap good 0, both or neither
    0.5), recorded beside the benefit; a cheap answer settled by signals is a tie."""
    config = DuelConfig(enabled=True, share=1.0, budget_usd=5.0)
    sink = ListSink()
    duels = Duels(config, sink=sink, budget=DuelBudget(config, tmp_path / "s.json"))

    async def strong() -> DuelAnswer:
        return DuelAnswer(model="gpt-4o", text="Paris")

    cheap = DuelAnswer(model="gpt-4o-mini", text="Lyon")
    gains = {}
    for reply in ("A", "B", "BOTH", "NEITHER", "maybe"):

        async def judge(messages: list[dict[str, str]], reply: str = reply) -> str:
            return reply

        result = await duels.run(decision=routed(reply), prompt="Capital?", cheap=cheap,
                                 strong_tier="strong", call_other=strong, judge=judge)  # fmt: skip
        assert result.record is not None
        assert result.record.extra["gain"] == result.verdict.gain
        gains[reply] = (result.verdict.gain, result.record.extra["benefit"])
    assert gains == {"A": (0.0, 0), "B": (1.0, 1), "BOTH": (0.5, 0), "NEITHER": (0.5, 0),
                     "maybe": (None, None)}  # fmt: skip
    ok = DuelAnswer(model="m", text="{}", tool_call_parsed=True, tool_succeeded=True)
    settled = await duels.run(decision=routed("s"), prompt="p", cheap=ok,
                              strong_tier="strong", call_other=strong)  # fmt: skip
    assert settled.verdict.gain == 0.5
    assert [d.extra["gain"] for d in sink.decisions] == [0.0, 1.0, 0.5, 0.5, None, 0.5]


def test_old_duel_records_still_give_labels() -> None:
    """Records written before the gain was recorded get it from their verdict (or, with
    only a benefit, 1 -> 1 and 0 -> a tie); the benefit label reads `benefit` as before;
    unjudged duels and other decisions give no row."""
    from agent_routing.analyzer.learning import duel_label, duel_rows

    def duel(key: str, **extra: object) -> DecisionRecord:
        return dataclasses.replace(
            routed(key), strategy=DUEL_STRATEGY, extra={"features": {"prior_logit": 0.1}, **extra}
        )

    def verdict(cheap: bool | None, strong: bool | None) -> dict[str, object]:
        return {"cheap_ok": cheap, "strong_ok": strong, "judged_by": "judge", "detail": ""}

    records = [
        duel("new", gain=0.0, benefit=0, verdict=verdict(True, False)),
        duel("old-a", benefit=0, verdict=verdict(True, False)),  # before `gain`: derived
        duel("old-b", benefit=1, verdict=verdict(False, True)),
        duel("old-both", benefit=0, verdict=verdict(True, True)),
        duel("bare-1", benefit=1),
        duel("bare-0", benefit=0),
        duel("unjudged", gain=None, benefit=None, verdict=verdict(None, None)),
        duel("old-unjudged", benefit=None, verdict=verdict(None, None)),
        routed("not-a-duel"),
    ]
    gains = {key: row.label for key, row in duel_rows(records)}
    assert gains == {"new": 0.0, "old-a": 0.0, "old-b": 1.0, "old-both": 0.5,
                     "bare-1": 1.0, "bare-0": 0.5}  # fmt: skip
    benefits = {key: row.label for key, row in duel_rows(records, "benefit")}
    assert benefits == {"new": 0.0, "old-a": 0.0, "old-b": 1.0, "old-both": 0.0,
                        "bare-1": 1.0, "bare-0": 0.0}  # fmt: skip
    assert duel_label(records[0], "benefit") == 0.0


def test_held_out_concordance_is_the_auc_on_binary_labels_and_orders_gains() -> None:
    """On 0/1 labels it equals ROC AUC; on gains a perfect order scores 1, the reverse 0,
    and a mixed one the share of differently labelled pairs in order."""
    from agent_routing.analyzer.learning import held_out_auc, held_out_concordance

    rng = random.Random(3)
    binary = [rng.randrange(2) for _ in range(60)]
    scores = [rng.random() for _ in range(60)]
    assert held_out_concordance(binary, scores) == held_out_auc(binary, scores)
    gains = [0.0, 0.5, 0.5, 1.0]
    assert held_out_concordance(gains, [0.1, 0.2, 0.3, 0.9]) == 1.0
    assert held_out_concordance(gains, [0.9, 0.3, 0.2, 0.1]) == 0.0
    # pairs with different labels: (0,.5)x2 (0,1) (.5,1)x2 = 5; only (0, 0.5 scored 0.05) wrong
    assert held_out_concordance(gains, [0.1, 0.05, 0.3, 0.9]) == 0.8


async def test_refit_on_gain_learns_where_the_cheap_model_wins(tmp_path: Path) -> None:
    """With a judge saying only the cheap answer was good on one topic, the gain refit (the
    default) scores that topic below ties, which the benefit label cannot tell apart; both
    refits are compared with the model in use on the same held-out metric."""
    db = tmp_path / "ledger.db"
    settings = text_settings(db)
    writer = get_writer(db, settings.ledger)
    config = DuelConfig(enabled=True, share=1.0, budget_usd=1e6)
    duels = Duels(config, sink=writer, budget=DuelBudget(config, tmp_path / "s.json"))
    analyzer = TextAnalyzer()
    reply = {"zebra": "B", "meadow": "A", "harbour": "BOTH"}
    topics = ["zebra", "meadow", "harbour"]
    prompts = [f"{topics[i % 3]} {PROMPTS[i]}" for i in range(240)]

    async def strong() -> DuelAnswer:
        return DuelAnswer(model="gpt-4o", text="strong")

    for index, words in enumerate(prompts):

        async def judge(messages: list[dict[str, str]], words: str = words) -> str:
            return reply[words.split(maxsplit=1)[0]]

        features = dict(analyzer.analyze(AnalysisRequest(prompt=words)).features)
        await duels.run(decision=routed(f"r{index}", features), prompt=words,
                        cheap=DuelAnswer(model="gpt-4o-mini", text="cheap"),
                        strong_tier="strong", call_other=strong, judge=judge)  # fmt: skip
    assert writer.flush(timeout=30)

    def topic_gap(model_path: Path) -> float:
        """Mean score of the tie topic minus the cheap-wins topic under a saved model."""
        from agent_routing.analyzer._text import load_text_model

        scored = TextAnalyzer(load_text_model(model_path))
        mean = {
            topic: sum(
                scored.analyze(AnalysisRequest(prompt=p)).score
                for p in prompts
                if p.startswith(topic)
            )
            / 80
            for topic in ("meadow", "harbour")
        }
        return mean["harbour"] - mean["meadow"]

    gain = refit_text_from_ledger(None, settings, tmp_path / "gain.json")
    benefit = refit_text_from_ledger(None, settings, tmp_path / "benefit.json", label="benefit")
    assert (gain.label, benefit.label) == ("gain", "benefit")
    assert gain.positives == benefit.positives == 80  # only the strong answer good: zebra
    assert gain.replaced is True
    assert benefit.replaced is True
    assert gain.new_auc is not None
    assert gain.current_auc is not None
    assert gain.new_auc > 0.9 > gain.current_auc
    assert topic_gap(tmp_path / "gain.json") > 0.1
    assert abs(topic_gap(tmp_path / "benefit.json")) < topic_gap(tmp_path / "gain.json") / 2
