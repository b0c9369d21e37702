# One image for the app, the Celery worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv
# Dependencies first (the project installs no modules of its own), so code changes reuse this layer.
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
WORKDIR /srv/app
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "--bind", "0.0.0.0:8000", "config.wsgi:application"]
