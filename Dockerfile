# Slim, non-root image running gunicorn. The same image runs web, worker and beat
# (docker-compose.yml picks the command).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt \
    && groupadd --system vtu && useradd --system --gid vtu --home /app --shell /usr/sbin/nologin vtu

COPY --chown=vtu:vtu . .
RUN DEBUG=true python manage.py collectstatic --noinput >/dev/null \
    && mkdir -p /app/media && chown -R vtu:vtu /app/media /app/staticfiles

USER vtu
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
