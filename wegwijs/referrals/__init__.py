"""Warm referrals to a klantmanager or sleutelpersoon: storage, service, summary, CLI."""
