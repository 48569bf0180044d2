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
case "$role" in
  web)
    run python manage.py migrate --noinput
    run python manage.py schedule_install
    if [ "${DRY_RUN:-0}" = "1" ]; then
      echo "exec gunicorn config.wsgi:application --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --access-logfile - --timeout ${GUNICORN_TIMEOUT:-30}"
      exit 0
    fi
    exec gunicorn config.wsgi:application --bind "0.0.0.0:${PORT:-8000}" --workers "${WEB_CONCURRENCY:-3}" \
      --access-logfile - --timeout "${GUNICORN_TIMEOUT:-30}"
    ;;
  worker)
    if [ "${DRY_RUN:-0}" = "1" ]; then echo "exec celery -A config worker"; exit 0; fi
    exec celery -A config worker -l info -Q "${CELERY_WORKER_QUEUES:-default,providers,webhooks,callbacks,email}" \
      -c "${WORKER_CONCURRENCY:-4}"
    ;;
  beat)
    if [ "${DRY_RUN:-0}" = "1" ]; then echo "exec celery -A config beat"; exit 0; fi
    exec celery -A config beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler --pidfile=
    ;;
  *)
    exec "$@"
    ;;
esac
