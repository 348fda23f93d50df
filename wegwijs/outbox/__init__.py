"""The notification outbox of referrals (issue 9): rows written with the referral
(:mod:`wegwijs.outbox.messages`), sent by the worker (:mod:`wegwijs.outbox.worker`) over
SMTP or a signed webhook (:mod:`wegwijs.outbox.send`). See ``docs/routing.md``.
"""
