#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up, lint, types, then three pytest lanes.
#   unit         SQLite, eager Celery, plus one real worker on the embedded filesystem broker
#   integration  PostgreSQL + Redis over real connections, a real Celery worker process
#   browser      headless Chromium (Debian's) driven by Playwright against a live server
# With CI=true a lane whose services are unreachable fails instead of skipping.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test || exit 1
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
py=.venv/bin/python

export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export TEST_BROKER_URL=${TEST_BROKER_URL:-redis://127.0.0.1:6379/15}

# Start PostgreSQL and Redis when they are installed here but not running.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  say "starting PostgreSQL"
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
fi
if ! (redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1) && command -v redis-server >/dev/null; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

declare -A result
run_lane() {  # name, then the command
  local name=$1; shift
  say "$name"
  if "$@"; then result[$name]=passed; else result[$name]="FAILED ($?)"; fi
}

run_lane lint   .venv/bin/ruff check .
run_lane format .venv/bin/ruff format --check .
run_lane types  env DJANGO_DEBUG=true EFT_ENV_FILE=none .venv/bin/mypy
run_lane unit        env -u DATABASE_URL -u CELERY_BROKER_URL $py -m pytest -m "not integration and not browser" -p no:cacheprovider
run_lane integration env DATABASE_URL="$TEST_DATABASE_URL" CELERY_BROKER_URL="$TEST_BROKER_URL" \
  CELERY_TASK_ALWAYS_EAGER=false $py -m pytest -m integration -p no:cacheprovider
run_lane browser     env -u DATABASE_URL -u CELERY_BROKER_URL $py -m pytest -m browser -p no:cacheprovider

say "summary"
status=0
for lane in lint format types unit integration browser; do
  printf '  %-12s %s\n' "$lane" "${result[$lane]}"
  [[ "${result[$lane]}" == passed ]] || status=1
done
exit $status
