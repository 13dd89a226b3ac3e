import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp import env

ROOT = Path(__file__).resolve().parents[3]


def test_bool_parsing_and_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env.env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env.env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "")
    assert env.env_bool("X_FLAG", True) is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe'"):
        env.env_bool("X_FLAG")


def test_empty_value_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_STR", "")
    assert env.env_str("X_STR", "fallback") == "fallback"
    monkeypatch.setenv("X_LIST", " a, ,b ")
    assert env.env_list("X_LIST") == ["a", "b"]
    monkeypatch.setenv("X_INT", "12x")
    with pytest.raises(ImproperlyConfigured, match="X_INT='12x' is not an integer"):
        env.env_int("X_INT", 1)


def test_dotenv_fills_only_unset_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nX_A=from-file\nexport X_B='quoted value'\nX_C=file\n")
    monkeypatch.delenv("X_A", raising=False)
    monkeypatch.delenv("X_B", raising=False)
    monkeypatch.setenv("X_C", "environment")
    env.load_dotenv(dotenv)
    import os

    assert os.environ["X_A"] == "from-file"
    assert os.environ["X_B"] == "quoted value"
    assert os.environ["X_C"] == "environment"
    for key in ("X_A", "X_B"):
        monkeypatch.delenv(key)


def test_dotenv_bad_line_names_file_and_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("X_OK=1\nthis line is wrong\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:2: expected KEY=value"):
        env.load_dotenv(dotenv)


def test_every_setting_read_is_listed_in_env_example() -> None:
    sources = [ROOT / "webapp" / "settings.py", ROOT / "scripts" / "run.sh"]
    read = set()
    for source in sources:
        text = source.read_text()
        read |= set(re.findall(r'env_(?:str|bool|int|float|list|path)\(\s*"([A-Z0-9_]+)"', text))
        read |= {m for m in re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", text)}
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = sorted(read - listed - {"EFT_ADMIN_USER"})
    assert not missing, f".env.example does not list: {missing}"
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "MTURK_ENABLED"} <= read
