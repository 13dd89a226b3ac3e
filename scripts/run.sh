#!/usr/bin/env bash
# The main job on the embedded default: set up, migrate, create the staff user, start two Celery
# workers (fits; imports, renders and the beat schedule) and the web server on
# http://$EFT_HOST:$EFT_PORT/.
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
worker_credentials=$($py manage.py crowd_demo worker --username "${EFT_DEMO_WORKER:-worker}")

# Two workers, so that imports and renders never wait behind fitting: one takes the gpu queue
# (fit chunks, minutes each on a CPU), the other the celery and render queues (imports, renders,
# housekeeping) and runs the beat schedule. docs/ARCHITECTURE.md, "Queues and workers".
say "starting the Celery workers (logs: $data/logs/worker-fits.log, $data/logs/worker-main.log)"
.venv/bin/celery -A webapp worker -Q "${CELERY_FIT_QUEUES:-gpu}" -n "fits@%h" \
  --concurrency 1 --loglevel INFO >"$data/logs/worker-fits.log" 2>&1 &
workers=($!)
.venv/bin/celery -A webapp worker -B -Q "${CELERY_MAIN_QUEUES:-celery,render}" -n "main@%h" \
  --concurrency 1 --loglevel INFO >"$data/logs/worker-main.log" 2>&1 &
workers+=($!)
cleanup() {
  local pid alive=()
  for pid in "${workers[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  ((${#alive[@]})) || return 0
  echo "stopping the workers (warm shutdown)..."
  kill -TERM "${alive[@]}" 2>/dev/null
  for _ in $(seq 30); do
    local left=0
    for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    ((left)) || return 0
    sleep 1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
$py manage.py wait_for_worker --timeout 120 --count 2 || {
  tail -20 "$data/logs/worker-fits.log" "$data/logs/worker-main.log"; exit 1; }

# The demo campaign (made once: a gold set, 15 synthetic people fitted by the workers, an open
# in-house campaign over their fits), prepared in the background while the server starts.
if [[ "${EFT_DEMO:-true}" == "true" ]]; then
  $py manage.py crowd_demo campaign >"$data/logs/demo.log" 2>&1 &
  workers+=($!)
fi

box() {  # the lines given, framed, so they stand out at the end of the start-up log
  local width=0 line
  for line in "$@"; do (( ${#line} > width )) && width=${#line}; done
  printf '\n  +%s+\n' "$(printf '%*s' $((width + 2)) '' | tr ' ' '-')"
  for line in "$@"; do printf '  | %-*s |\n' "$width" "$line"; done
  printf '  +%s+\n\n' "$(printf '%*s' $((width + 2)) '' | tr ' ' '-')"
}
box "EFT crowd is running on the embedded default (SQLite, filesystem broker, local media)." \
  "" \
  "Open      http://$host:$port/" \
  "Datasets  http://$host:$port/staff/datasets/    Fit jobs  http://$host:$port/staff/jobs/" \
  "Status    http://$host:$port/staff/status/      Admin     http://$host:$port/admin/" \
  "" \
  "$credentials" \
  "New password: .venv/bin/python manage.py changepassword ${EFT_ADMIN_USER:-admin}" \
  "" \
  "Campaigns http://$host:$port/staff/campaigns/   Workers   http://$host:$port/staff/workers/" \
  "Vote as a crowd worker at http://$host:$port/work/ (the demo campaign opens in a few" \
  "minutes, once the workers have fitted its people: $data/logs/demo.log)" \
  "$worker_credentials" \
  "" \
  "Logs in $data/logs/. Ctrl-C stops the web server and the workers."
.venv/bin/gunicorn webapp.wsgi:application --bind "$host:$port" --workers 2 --timeout 180 \
  --access-logfile "$data/logs/access.log" --error-logfile - --log-level warning
