"""The OpenAPI schema of every endpoint is generated without a warning (names, authentication
and serializers all resolve), as API docs readers and client generators need."""

from __future__ import annotations

from pathlib import Path

from django.core.management import call_command


def test_the_schema_has_no_warning(tmp_path: Path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/benchmarks/{slug}/versions/{number}/download/:" in text
    assert "/api/crowd/votes/:" in text
    assert "basicAuth" in text
