"""The inbox: a web page and JSON API where klantmanagers, sleutelpersonen and admins
read and handle warm referrals (docs/inbox.md).

* :mod:`wegwijs.inbox.auth`: users, argon2 passwords, server-side sessions, CSRF,
  login throttling, API tokens.
* :mod:`wegwijs.inbox.service`: referrals as a user may see them (own gemeente only,
  a sleutelpersoon only those routed to them), status flow, notes, assignment; every
  view, change and export goes to the audit log (``access_log``).
* :mod:`wegwijs.inbox.transcript`: the conversation from Rasa's tracker store.
* :mod:`wegwijs.inbox.app`: the Sanic 21.12 application (Jinja2 templates, Dutch).
* :mod:`wegwijs.inbox.cli`: ``wegwijs users ...`` and ``wegwijs inbox``.
"""
