"""The copies of the topic list in bot/rules.yml and bot/domain.yml match languages/registry.yml."""

from __future__ import annotations

import yaml

from wegwijs.content.loader import REPO_ROOT, load_registry


def _topic_blocks() -> list[set[str]]:
    rules = yaml.safe_load((REPO_ROOT / "bot" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    blocks = []
    for rule in rules:
        for step in rule["steps"]:
            if "or" in step:
                intents = {s["intent"] for s in step["or"] if "intent" in s}
                if any(i.startswith("topic_") for i in intents):
                    blocks.append(intents)
    return blocks


def test_every_topic_rule_lists_every_topic() -> None:
    topics = {f"topic_{t}" for t in load_registry().topics}
    blocks = _topic_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        assert block == topics


def test_the_domain_has_every_topic_intent() -> None:
    domain = yaml.safe_load((REPO_ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    assert {f"topic_{t}" for t in load_registry().topics} <= set(domain["intents"])


def test_every_emergency_category_has_its_static_reply() -> None:
    domain = yaml.safe_load((REPO_ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    for category in load_registry().safety_categories:
        assert f"utter_urgent_{category}" in domain["actions"]
