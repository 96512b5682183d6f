FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY scoring scoring
COPY streams streams
COPY schemas schemas
COPY bench bench
RUN pip install --no-cache-dir -c constraints.txt .
# In a container the web port must be reachable from the host and from Prometheus.
ENV LEADSTREAM_WEB_HOST=0.0.0.0 LEADSTREAM_DATA_DIR=/var/lib/leadstream
ENTRYPOINT ["leadstream"]
CMD ["worker", "--loglevel", "info"]
