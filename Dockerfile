FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir -e . \
    && cd frontend && npm ci --omit=dev --no-audit --no-fund && cd .. \
    && python manage.py compilemessages --ignore=frontend/node_modules -v 0 \
    && DJANGO_DEBUG=1 python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
