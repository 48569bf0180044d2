#!/bin/sh
# Container entrypoint: `web` migrates, installs the beat schedule and serves gunicorn;
# `worker` and `beat` run Celery; anything else is executed as given.
# Runs outside Docker too (tests call it with DRY_RUN=1 to print what it would exec).
set -eu
cd "$(dirname "$0")/.."

run() {
  if [ "${DRY_RUN:-0}" = "1" ]; then echo "$*"; else "$@"; fi
}

role="${1:-web}"

# Prometheus multiprocess files (docs/observability.md). With PROMETHEUS_MULTIPROC_ROOT (a
# volume shared by the web and worker containers) each container writes to its own
# subdirectory: pids repeat across containers, so one shared directory would mix their files.
# This container's subdirectory is emptied here, before any of its processes exist (this shell
# is the container's first process), so nothing live is ever deleted; other containers' files
# are never touched. The scrape reads every subdirectory. Done for real under DRY_RUN too.
# An empty PROMETHEUS_MULTIPROC_DIR would still switch prometheus-client to files in the cwd.
[ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ] || unset PROMETHEUS_MULTIPROC_DIR
case "$role" in
  web|worker|beat)
    if [ -n "${PROMETHEUS_MULTIPROC_ROOT:-}" ]; then
      PROMETHEUS_MULTIPROC_DIR="$PROMETHEUS_MULTIPROC_ROOT/$role-$(hostname)"
      export PROMETHEUS_MULTIPROC_DIR
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
      find "$PROMETHEUS_MULTIPROC_DIR" -name '*.db' -type f -delete
      [ "${DRY_RUN:-0}" != "1" ] || echo "PROMETHEUS_MULTIPROC_DIR=$PROMETHEUS_MULTIPROC_DIR"
    fi
    ;;
esac
# The command for each role is built once and either printed (DRY_RUN) or exec'd, so what the
# tests read is exactly what runs.
case "$role" in
  web)
    run python manage.py migrate --noinput
    run python manage.py schedule_install
    # No gunicorn access log: it would write every URL with its query string, and the links in
    # our e-mails carry verification and reset tokens there (/reset-password?token=...). The
    # app writes one JSON `request` line per request instead, with the path only.
    set -- gunicorn config.wsgi:application --bind "0.0.0.0:${PORT:-8000}" --workers "${WEB_CONCURRENCY:-3}" \
      --timeout "${GUNICORN_TIMEOUT:-30}"
    ;;
  worker)
    # Callbacks to resellers run on their own worker (CELERY_WORKER_QUEUES=callbacks, as in
    # docker-compose.yml), so a slow reseller endpoint never holds a provider worker.
    # --quiet: no start-up banner on stdout; every line is the JSON of settings.LOGGING.
    set -- celery -A config --quiet worker -l info -Q "${CELERY_WORKER_QUEUES:-default,providers,webhooks,email}" \
      -c "${WORKER_CONCURRENCY:-4}"
    ;;
  beat)
    set -- celery -A config --quiet beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler --pidfile=
    ;;
  *)
    exec "$@"
    ;;
esac
if [ "${DRY_RUN:-0}" = "1" ]; then echo "exec $*"; exit 0; fi
exec "$@"
