"""SafetyFirstPolicy: the emergency reply depends on the safety nets, not on the intent alone."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.components.safety_policy import INTENT_ONLY_FLOOR, SafetyFirstPolicy, is_urgent
from bot.components.urgent import INTENT_ONLY_FLOOR as CLASSIFIER_FLOOR

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [urgent_help, topic_sleep, goodbye, affirm]
responses:
  utter_urgent_help: [{text: "112"}]
  utter_urgent_medical_emergency: [{text: "112 + huisartsenpost"}]
  utter_urgent_followup: [{text: "ok"}]
  utter_urgent_violence_at_home: [{text: "112 + Veilig Thuis"}]
actions: [action_urgent_referral]
"""
)


def parse(confidence: float, safety: Optional[Dict[str, Any]] = None, with_key: bool = True,
          intent: str = "urgent_help") -> Dict[str, Any]:
    data: Dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}, "entities": [], "text": "x"}
    if with_key and safety is not None:
        data["safety"] = safety
    return data


NET = {"category": "medical_emergency", "source": "model", "score": 0.9}


@pytest.mark.parametrize(
    "data, expected",
    [
        (parse(0.65), False),  # the intent classifier alone, below the floor
        (parse(0.3, NET), True),  # a safety net fired
        (parse(1.0), True),  # a button payload /urgent_help or a test story
        (parse(INTENT_ONLY_FLOOR), True),
        (parse(0.99, NET, intent="topic_sleep"), False),
        (None, False),
    ],
)
def test_is_urgent(data: Optional[Dict[str, Any]], expected: bool) -> None:
    assert is_urgent(data) is expected


def test_policy_and_classifier_share_one_floor() -> None:
    assert INTENT_ONLY_FLOOR == CLASSIFIER_FLOOR
    assert 0.5 < INTENT_ONLY_FLOOR <= 1.0


@pytest.fixture()
def policy(tmp_path) -> SafetyFirstPolicy:
    return SafetyFirstPolicy.create(
        SafetyFirstPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("safety_first"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def predicted(policy: SafetyFirstPolicy, data: Dict[str, Any]) -> Optional[str]:
    event = UserUttered("x", data["intent"], [], parse_data=data)
    tracker = DialogueStateTracker.from_events("s", [ActionExecuted(ACTION_LISTEN_NAME), event])
    probabilities = policy.predict_action_probabilities(tracker, DOMAIN).probabilities
    if max(probabilities) == 0:
        return None
    return DOMAIN.action_names_or_texts[probabilities.index(max(probabilities))]


def test_policy_ignores_a_low_intent_without_the_nets(policy: SafetyFirstPolicy) -> None:
    assert predicted(policy, parse(0.65)) is None


def test_policy_answers_a_safety_net_hit_with_the_category_reply(policy: SafetyFirstPolicy) -> None:
    assert predicted(policy, parse(0.4, NET)) == "utter_urgent_medical_emergency"


def test_policy_answers_a_sure_intent_without_safety_data(policy: SafetyFirstPolicy) -> None:
    assert predicted(policy, parse(1.0)) == "utter_urgent_help"


@pytest.mark.parametrize("intent, expected", [("goodbye", "utter_urgent_followup"), ("affirm", None), ("topic_sleep", None)])
def test_a_status_right_after_the_numbers_gets_the_follow_up(policy: SafetyFirstPolicy, intent: str, expected) -> None:
    urgent = parse(0.9, NET)
    status = parse(0.92, intent=intent)
    events = [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("x", urgent["intent"], [], parse_data=urgent),
              ActionExecuted("utter_urgent_medical_emergency"), ActionExecuted("action_urgent_referral"),
              ActionExecuted(ACTION_LISTEN_NAME), UserUttered("y", status["intent"], [], parse_data=status)]
    probabilities = policy.predict_action_probabilities(DialogueStateTracker.from_events("s", events), DOMAIN).probabilities
    got = DOMAIN.action_names_or_texts[probabilities.index(max(probabilities))] if max(probabilities) else None
    assert got == expected
    # without the emergency before it, a goodbye is left to the rules
    assert predicted(policy, status) is None


@pytest.mark.parametrize("second, expected", [
    ({"category": None, "source": "model", "score": 0.88}, "utter_urgent_followup"),           # "the ambulance came, she is fine"
    ({"category": "child_missing", "source": "model", "score": 0.86}, "utter_urgent_followup"),  # only the learned net
    ({"category": "violence_at_home", "source": "keywords", "keyword": "he has a knife"}, "utter_urgent_violence_at_home"),
])
def test_a_second_danger_right_after_the_numbers(policy: SafetyFirstPolicy, second, expected) -> None:
    urgent = parse(0.9, NET)
    later = parse(0.9, second)
    events = [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("x", urgent["intent"], [], parse_data=urgent),
              ActionExecuted("utter_urgent_medical_emergency"), ActionExecuted("action_urgent_referral"),
              ActionExecuted(ACTION_LISTEN_NAME), UserUttered("y", later["intent"], [], parse_data=later)]
    probabilities = policy.predict_action_probabilities(DialogueStateTracker.from_events("s", events), DOMAIN).probabilities
    assert DOMAIN.action_names_or_texts[probabilities.index(max(probabilities))] == expected


@pytest.mark.parametrize("loop, expected", [("contact_form", "contact_form"), (None, ACTION_LISTEN_NAME)])
def test_after_the_follow_up_an_open_question_comes_back(policy: SafetyFirstPolicy, loop, expected) -> None:
    """"De ambulance is er nu": the follow-up, then the form asks what it asked before the emergency."""
    from rasa.shared.core.events import ActiveLoop

    domain = Domain.from_dict({**DOMAIN.as_dict(), "forms": {"contact_form": {"required_slots": []}}})
    urgent = parse(0.9, NET)
    status = parse(0.92, intent="goodbye")
    events = [ActiveLoop(loop)] if loop else []
    events += [ActionExecuted(ACTION_LISTEN_NAME), UserUttered("x", urgent["intent"], [], parse_data=urgent),
               ActionExecuted("utter_urgent_medical_emergency"), ActionExecuted("action_urgent_referral"),
               ActionExecuted(ACTION_LISTEN_NAME), UserUttered("y", status["intent"], [], parse_data=status),
               ActionExecuted("utter_urgent_followup")]
    probabilities = policy.predict_action_probabilities(DialogueStateTracker.from_events("s", events), domain).probabilities
    assert domain.action_names_or_texts[probabilities.index(max(probabilities))] == expected
