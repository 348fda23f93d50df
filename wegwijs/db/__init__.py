"""Database layer: declarative models and migration helpers."""
