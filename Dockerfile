# The leadstream image: one image for every process (worker, collector, alerts), chosen by the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, at the project's pinned versions: this layer is rebuilt only when they change.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt

# Then the source (what .dockerignore lets through).
COPY . .
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/leadstream --shell /usr/sbin/nologin leadstream \
    && mkdir -p /var/lib/leadstream \
    && chown leadstream:leadstream /var/lib/leadstream

# In a container the web port must be reachable from the host and from Prometheus.
ENV LEADSTREAM_WEB_HOST=0.0.0.0 LEADSTREAM_DATA_DIR=/var/lib/leadstream
USER leadstream
WORKDIR /var/lib/leadstream
EXPOSE 6066 8080
ENTRYPOINT ["leadstream"]
CMD ["worker", "--log-level", "info"]
