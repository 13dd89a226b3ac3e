#!/usr/bin/env bash
# The main job on the embedded default: set up, migrate, create the staff user, start a Celery
# worker (with the beat schedule) and the web server on http://$EFT_HOST:$EFT_PORT/.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [[ ! -f .env ]]; then
  say "writing .env with a new SECRET_KEY (all settings: .env.example)"
  key=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')
  printf '# Written by make run. Every setting and its default: .env.example\nSECRET_KEY=%s\n' "$key" >.env
fi
set -a; source .env; set +a
host=${EFT_HOST:-127.0.0.1}
port=${EFT_PORT:-8000}
data=${DATA_DIR:-data}
mkdir -p "$data/logs"

py=.venv/bin/python
say "migrating the database"
$py manage.py migrate --noinput
$py manage.py collectstatic --noinput -v0
credentials=$($py manage.py ensure_staff_user --username "${EFT_ADMIN_USER:-admin}")

say "starting a Celery worker (log: $data/logs/worker.log)"
.venv/bin/celery -A webapp worker -B -Q "${CELERY_WORKER_QUEUES:-celery,gpu,render}" \
  --concurrency 1 --loglevel INFO >"$data/logs/worker.log" 2>&1 &
worker=$!
cleanup() {
  kill -0 "$worker" 2>/dev/null || return 0
  echo "stopping the worker (warm shutdown)..."
  kill -TERM "$worker" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$worker" 2>/dev/null || return 0; sleep 1; done
  kill -KILL "$worker" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
$py manage.py wait_for_worker --timeout 120 || { tail -20 "$data/logs/worker.log"; exit 1; }

cat <<MSG

  EFT crowd is running on the embedded default (SQLite, filesystem broker, local media).

    Open        http://$host:$port/
    Status      http://$host:$port/staff/status/   (sign in first)
    Health      http://$host:$port/healthz
    Admin       http://$host:$port/admin/
    $credentials

  Ctrl-C stops the web server and the worker.

MSG
.venv/bin/gunicorn webapp.wsgi:application --bind "$host:$port" --workers 2 --timeout 180 \
  --access-logfile "$data/logs/access.log" --error-logfile - --log-level warning
