"""The staff account tests sign in with (made by the ``staff_user`` fixture in tests/conftest.py)."""

STAFF_USERNAME = "staff"
STAFF_PASSWORD = "correct-horse-battery-staple"
