"""Wegwijs custom actions (rasa-sdk). Thin: read slots, call ``wegwijs.*``, emit responses and events.

rasa-sdk imports every module here and instantiates every non-abstract ``Action``;
no module does work at import time.
"""
