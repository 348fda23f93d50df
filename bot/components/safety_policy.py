"""Safety first, in every state: the emergency reply comes before any form (issue 7, BRIEF §4).

Rasa's RulePolicy lets an active form (loop) run before any rule, so an urgent message
typed during a question ("my son fell on his head and keeps vomiting" while the ages are
asked) would be validated as an answer first. ``SafetyFirstPolicy`` outranks it:

1. right after an urgent user message (:func:`is_urgent`: intent ``urgent_help`` and
   either the safety nets' ``safety`` parse data — set by ``UrgentClassifier`` when the
   learned net or a keyword fired, or when the intent classifier was sure — or, for a
   message parsed without it (a button payload, a test story), an intent confidence of
   at least ``intent_only_floor``) it predicts the static
   response ``utter_urgent_<category>`` (category from the safety nets: the message's
   ``safety.category``; ``utter_urgent_help`` when unknown) — a response, not a custom
   action, so the numbers reach the parent even when the action server is down;
   when the previous user message was urgent and got the numbers, and this one is of the
   same category, has none, or only the learned net flagged it ("the ambulance is coming",
   "she is breathing again"), ``utter_urgent_followup`` instead;
   ``utter_urgent_followup`` too for a not-urgent goodbye, thanks or unread message
   right after the numbers (:data:`AFTER_URGENT_INTENTS`: "the ambulance took him, now he
   is fine" had been read as a goodbye and answered "goodbye, take care");
2. after that response, ``action_urgent_referral`` (the urgent warme overdracht; when it
   fails the parent already has the numbers);
3. then ``action_listen``: the conversation resumes where it was on the next message (an
   open form asks its question again; nothing is restarted). After
   ``utter_urgent_followup`` ("the ambulance is here now") an open form asks its question
   again at once, then ``action_listen``.

Otherwise it predicts nothing (all zeros), and the other policies decide. Its
predictions are "no user" predictions (like a form's happy path) with a priority above
RulePolicy's, so the ensemble prefers them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.components.urgent import INTENT_ONLY_FLOOR as _URGENT_INTENT_FLOOR

#: Intent set by the safety nets.
URGENT_INTENT = "urgent_help"
#: Confidence the intent alone needs when the parse has no ``safety`` data (the same floor
#: UrgentClassifier applies to the intent classifiers' ``urgent_help``).
INTENT_ONLY_FLOOR = _URGENT_INTENT_FLOOR
#: Generic emergency response (all numbers) and the per-category ones.
GENERIC_RESPONSE = "utter_urgent_help"
FOLLOWUP_RESPONSE = "utter_urgent_followup"
REFERRAL_ACTION = "action_urgent_referral"
#: Intents of a not-urgent message right after the numbers that get ``utter_urgent_followup``
#: (a status, "thank you", a goodbye or an unread message: "help is here, he is ok now"; a
#: yes is left to the form: it may answer the question asked before the emergency).
AFTER_URGENT_INTENTS = frozenset({"goodbye", "thanks", "nlu_fallback"})


def is_urgent(parse_data: Optional[Dict[str, Any]], floor: float = INTENT_ONLY_FLOOR) -> bool:
    """Whether a parsed message gets the emergency reply.

    Its intent must be ``urgent_help``, and either ``safety`` is set (a safety net fired,
    or UrgentClassifier kept a sure intent) or the intent confidence is at least ``floor``
    (a parse that never went through UrgentClassifier: button payloads such as
    ``/urgent_help``, test stories). UrgentClassifier replaces an ``urgent_help`` below the
    floor that no net confirmed, so a parsed message with this intent always has ``safety``.
    """
    data = parse_data or {}
    intent = data.get("intent") or {}
    if intent.get("name") != URGENT_INTENT:
        return False
    return bool(data.get("safety")) or float(intent.get("confidence") or 0.0) >= floor


def urgent_category(event: UserUttered) -> Optional[str]:
    """The safety category of an urgent user message, else None."""
    safety = (event.parse_data or {}).get("safety") or {}
    category = safety.get("category") if isinstance(safety, dict) else None
    if category:
        return str(category)
    for entity in event.entities or []:
        if entity.get("entity") == "urgent_category":
            return str(entity.get("value"))
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class SafetyFirstPolicy(Policy):
    """Predicts the emergency reply and the urgent referral right after an urgent message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # above RulePolicy (6): wins ties with a form's happy-path prediction
            "priority": 7,
            # confidence the intent urgent_help alone needs in a parse without `safety`
            "intent_only_floor": INTENT_ONLY_FLOOR,
        }

    @staticmethod
    def supported_data() -> SupportedData:
        """Needs no training data (see parent class for full docstring)."""
        return SupportedData.ML_AND_RULE_DATA

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any = None,
    ) -> None:
        """Creates the policy (see parent class for full docstring)."""
        super().__init__({**self.get_default_config(), **config}, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the behaviour is fixed (see parent class for full docstring)."""
        with self._model_storage.write_to(self._resource) as path:
            (path / "policy.txt").write_text("SafetyFirstPolicy has no learned state\n", encoding="utf-8")
        return self._resource

    def _predict_name(self, tracker: DialogueStateTracker, domain: Domain) -> Optional[str]:
        latest_action = tracker.latest_action_name
        if latest_action == ACTION_LISTEN_NAME:
            message = tracker.latest_message
            if message is None:
                return None
            if not self._is_urgent(message):
                # "the ambulance took him, now he is fine, we are at the hospital" read as a
                # goodbye or not understood, right after the numbers: the follow-up, not "bye"
                intent = ((message.parse_data or {}).get("intent") or {}).get("name")
                if intent in AFTER_URGENT_INTENTS and self._previous_urgent_category(tracker) is not None \
                        and FOLLOWUP_RESPONSE in domain.action_names_or_texts:
                    return FOLLOWUP_RESPONSE
                return None
            category = urgent_category(message)
            previous = self._previous_urgent_category(tracker)
            safety = (message.parse_data or {}).get("safety") or {}
            only_model = isinstance(safety, dict) and safety.get("source") == "model"
            # right after the numbers, the same danger, a generic one, or one only the learned
            # net saw ("الاسعاف جت وخدوها المستشفى وقالو هي كويسة": the ambulance came, she is
            # fine) is a status: the follow-up (112 again if it gets worse), not the numbers
            # and a second referral; a keyword of another category still gets its numbers
            if previous is not None and (previous in (category, "_any") or category is None or only_model):
                return FOLLOWUP_RESPONSE
            name = f"utter_urgent_{category}" if category else GENERIC_RESPONSE
            return name if name in domain.action_names_or_texts else GENERIC_RESPONSE
        if latest_action in domain.action_names_or_texts and latest_action and latest_action.startswith("utter_urgent_") \
                and latest_action != FOLLOWUP_RESPONSE:
            return REFERRAL_ACTION
        if latest_action == FOLLOWUP_RESPONSE and tracker.active_loop_name \
                and tracker.active_loop_name in domain.action_names_or_texts:
            # "the ambulance is here now": after the follow-up the open question comes back
            # (the form asks it again), so the parent sees where the conversation was
            return tracker.active_loop_name
        if latest_action in (REFERRAL_ACTION, FOLLOWUP_RESPONSE):
            return ACTION_LISTEN_NAME
        return None

    def _is_urgent(self, message: UserUttered) -> bool:
        return is_urgent(message.parse_data, float(self.config["intent_only_floor"]))

    @staticmethod
    def _previous_urgent_category(tracker: DialogueStateTracker) -> Optional[str]:
        """The category of the previous user message when it was urgent and got the numbers."""
        users = 0
        answered = False
        for event in reversed(tracker.events):
            if isinstance(event, ActionExecuted) and users == 1 and (event.action_name or "").startswith("utter_urgent_"):
                answered = True
            if isinstance(event, UserUttered):
                users += 1
                if users == 2:
                    if not is_urgent(event.parse_data) or not answered:
                        return None
                    return urgent_category(event) or "_any"
        return None

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts the emergency path, or nothing (see parent class for full docstring)."""
        result = self._default_predictions(domain)
        name = self._predict_name(tracker, domain)
        if name is None:
            return self._prediction(result)
        result[domain.index_for_action(name)] = 1.0
        return self._prediction(result, is_no_user_prediction=True)
