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
# collectstatic under the production settings (DEBUG off), so the manifest storage production
# uses writes staticfiles.json; without it every admin and /api/docs/ page answers 500. The
# secrets are throwaway build-time values that pass the start-up checks: they live only in
# this RUN line, never in the image's environment, and sign nothing.
RUN DEBUG=false SECRET_KEY=build-only-collectstatic-not-a-secret-0000 PIN_PEPPER=build-only-not-a-pepper \
        KYC_IDENTITY_HMAC_KEY=build-only-not-an-identity-key-000000 \
        DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput >/dev/null \
    && test -s /app/staticfiles/staticfiles.json \
    && mkdir -p /app/media && chown -R vtu:vtu /app/media /app/staticfiles

USER vtu
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
