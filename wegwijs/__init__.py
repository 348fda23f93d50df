"""Wegwijs: multilingual intake assistant for newcomer parents (Rasa 3.6)."""
