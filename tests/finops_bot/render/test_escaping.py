"""No user-supplied text reaches Slack unescaped: a property test over questions full of
Slack control sequences, through the engine and every renderer (blocks and fallback text)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finops_bot.demo import load_demo
from finops_bot.questions import Engine
from finops_bot.render.blocks import answer_blocks, answer_fallback_text
from tests.conftest import NOW, TODAY

HOSTILE = ["<!channel>", "<!here>", "<@U1>", "<#C1|general>", "&", "<http://x|y>", ">", "<"]
WORDS = ["bert-training", "top 5 projects", "by service", "compare", "vs", "last week",
         "project", "owner", "idle gpus for", "what did", "cost", "account", "nlp"]  # fmt: skip
# what an escaped text may still contain: entities, never a raw < or >
UNESCAPED = re.compile(r"<[!@#]|<http|<mailto")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from finops_bot.ingest.tags import TagRules
    from finops_bot.store import connect

    db = connect(tmp_path_factory.mktemp("esc") / "demo.db")
    load_demo(db, TODAY, NOW, TagRules({"project": ("project",), "owner": ("owner",)}))
    return Engine(db)


def mrkdwn_texts(blocks: list[dict]) -> list[str]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return out


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(st.sampled_from(HOSTILE + WORDS) | st.text(max_size=6), min_size=1, max_size=7)
)
def test_no_answer_carries_user_text_unescaped(engine, parts):
    question = " ".join(parts)
    answer = engine.ask(question, TODAY, NOW)
    blocks = answer_blocks(answer, share=json.dumps({"q": question, "d": "2026-11-22"}))
    for text in [*mrkdwn_texts(blocks), answer_fallback_text(answer)]:
        assert not UNESCAPED.search(text), (question, text)
        assert "<" not in text.replace("&lt;", ""), (question, text)


def test_the_share_credit_and_the_working_line_escape_the_question(monkeypatch):
    from handlers.actions.share import share_in_channel

    posted = {}

    class Answers:
        def submit(self, question, day, user_id=None, audience=None):
            from concurrent.futures import Future

            done = Future()
            done.set_result(_fake_answer(question))
            return done

    def respond(**kw):
        posted.update(kw)

    value = json.dumps({"q": "<!channel> top 5 projects", "d": "2026-11-22"})
    share_in_channel(
        ack=lambda: None,
        action={"value": value},
        body={"user": {"id": "U111"}},
        context={"finops": type("D", (), {"answers": Answers(), "ack_budget": 1.0})()},
        respond=respond,
        logger=__import__("logging").getLogger("t"),
    )
    credit = posted["blocks"][-1]["elements"][0]["text"]
    assert credit == "Shared by <@U111> · asked: &lt;!channel&gt; top 5 projects"


def _fake_answer(question):
    from finops_bot.questions.answer import Answer

    return Answer(question=question, kind="help", message="help", title="What you can ask")
