# syntax=docker/dockerfile:1
# Two stages: the first turns the project and its `streams` extra into wheels, the second installs
# only those wheels, so the runtime image carries no compiler, no build backend and no source tree.

FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# pyproject names README.md as the long description, so the build needs it.
COPY pyproject.toml README.md ./
COPY agenther ./agenther
COPY streams ./streams
RUN pip wheel --wheel-dir /wheels ".[streams]"


FROM python:3.11-slim

# VERSION must equal pyproject's version (tests/test_dockerfile.py checks); REVISION is the commit.
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="agenther" \
      org.opencontainers.image.description="Turns failed LLM-agent runs into training data, live off Kafka (hindsight relabeling)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

# No bytecode writes: the chart mounts the root filesystem read-only.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The wheels are bind-mounted, not copied, so they never become a layer of the final image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "agenther[streams]==${VERSION}" \
    && groupadd --system --gid 10001 agenther \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/cache/agenther --no-create-home \
       --shell /usr/sbin/nologin agenther \
    && install -d -o 10001 -g 10001 -m 0750 /var/cache/agenther

# The Avro contracts: streams.avro_codec reads them from AGENTHER_SCHEMA_DIR.
COPY schemas /usr/local/share/agenther/schemas
ENV AGENTHER_SCHEMA_DIR=/usr/local/share/agenther/schemas

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/cache/agenther
ENV HOME=/var/cache/agenther

# In a container loopback is unreachable from outside; the service binds loopback by default.
ENV AGENTHER_METRICS_HOST=0.0.0.0
EXPOSE 9464

# slim has no curl; the port follows AGENTHER_METRICS_PORT, where /healthz is served.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('AGENTHER_METRICS_PORT', '9464') + '/healthz', timeout=4)"]

ENTRYPOINT ["agenther"]
CMD ["serve"]
