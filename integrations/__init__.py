"""Rasa integrations: channels, tracker store, web chat."""
