"""Parent-facing content: schema, loader, parity checks and the domain compiler."""
