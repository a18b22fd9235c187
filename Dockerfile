# syntax=docker/dockerfile:1
# CodeWeaver server image: `docker build -t codeweaver .` (see docs/deploy.md).
# The embedding model ships inside the package, so the image needs no download at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the package and its dependencies into a virtual environment
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/codeweaver
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/codeweaver/bin/pip install --no-cache-dir . \
    && /opt/codeweaver/bin/python -c "from importlib.resources import files; \
assert files('codeweaver').joinpath('models/minilm-l6-v2-int8.onnx').is_file()" \
    && find /opt/codeweaver -name '__pycache__' -type d -prune -exec rm -rf {} +

# ---- run: the virtual environment, tini as PID 1, an unprivileged user
FROM ${PYTHON_IMAGE} AS run
ARG TINI_VERSION=0.19.0-1
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=${TINI_VERSION} \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 codeweaver \
    && useradd --system --uid 10001 --gid codeweaver --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin codeweaver \
    && mkdir -p /data /tmp/codeweaver \
    && chown codeweaver:codeweaver /data /tmp/codeweaver
COPY --from=build /opt/codeweaver /opt/codeweaver
COPY deploy/docker/healthcheck.py /opt/codeweaver/healthcheck.py
# Everything the server writes goes to CODEWEAVER_HOME (/data, a volume) or /tmp, so the
# root file system can be mounted read-only.
ENV PATH=/opt/codeweaver/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CODEWEAVER_HOME=/data \
    XDG_CONFIG_HOME=/etc/codeweaver \
    TMPDIR=/tmp/codeweaver
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/codeweaver/healthcheck.py"]
# tini forwards SIGTERM to the server, which drains in-flight requests before it exits.
ENTRYPOINT ["tini", "--", "codeweaver"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
