"""Security of the running servers (docs/security.md).

- :mod:`wegwijs.security.secrets`: the API token, the action-server token and the log
  key, from the environment or generated once into a file outside the repository;
- :mod:`wegwijs.security.redact`: the logging filter (phone numbers, e-mail addresses,
  BSN-like numbers, message texts, sender ids as a keyed hash);
- :mod:`wegwijs.security.api`: pydantic checks of Rasa's HTTP API requests;
- :mod:`wegwijs.security.ratelimit`: the per-sender message limit (Redis);
- :mod:`wegwijs.security.rasa_server` / :mod:`wegwijs.security.action_server`: the
  launchers ``wegwijs.serve`` starts instead of ``rasa run`` / ``rasa run actions``.
"""
