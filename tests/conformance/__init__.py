"""Conformance suite: schema, determinism, backend parity, split hygiene and pinned bytes, through the public API."""
