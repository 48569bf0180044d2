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

# Prometheus multiprocess files from a previous run would add stale counts: start empty.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ] && [ "$role" = "web" -o "$role" = "worker" ]; then
  run mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  [ "${DRY_RUN:-0}" = "1" ] || find "$PROMETHEUS_MULTIPROC_DIR" -name '*.db' -delete
fi
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
    # Callbacks to resellers run on their own worker (CELERY_WORKER_QUEUES=callbacks, as in
    # docker-compose.yml), so a slow reseller endpoint never holds a provider worker.
    queues="${CELERY_WORKER_QUEUES:-default,providers,webhooks,email}"
    if [ "${DRY_RUN:-0}" = "1" ]; then echo "exec celery -A config worker -Q $queues"; exit 0; fi
    exec celery -A config worker -l info -Q "$queues" \
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
