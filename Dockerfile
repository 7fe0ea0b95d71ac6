# Sourcier as a container: the locked runtime packages, the model baked in (fetched and verified by hash, its
# ONNX int8 export made here, nothing else of it kept), served by a non-root user on 0.0.0.0:8000, every write
# under the /data volume (articles in; index, crawl state, SQLite out). `make image` builds it here as
# sourcier:local; anywhere else `docker build -t sourcier .` does.
#
# BASE: any Debian bookworm with python3 (3.11) and its venv module; `make image` makes one with mmdebstrap
# where no image registry answers.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
# pip's source of torch 2.13.0's CPU build (the default index would give the CUDA one, gigabytes)
ARG TORCH_FROM="--index-url https://download.pytorch.org/whl/cpu"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=180 \
    HF_HUB_OFFLINE=1 SOURCIER_MODEL_CACHE=/opt/sourcier/models SOURCIER_RUNTIME=onnx-int8
# build-extras/ (made by `make image`, may be empty): ca.crt, a TLS-inspecting proxy's bundle for pip; wheels/,
# local wheels (torch's CPU build); models/, an already fetched model (verified again by hash here). This stage
# only: none of it reaches the final image.
COPY build-extras/ /extras/
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN if [ -s /extras/ca.crt ]; then export PIP_CERT=/extras/ca.crt; fi \
    && pip install $TORCH_FROM torch==2.13.0
COPY pyproject.toml requirements.lock README.md /src/
COPY corpus /src/corpus
COPY index /src/index
COPY service /src/service
COPY eval /src/eval
# the runtime packages at the lock's versions (the lock as constraints: test, lint and ray stay out)
RUN if [ -s /extras/ca.crt ]; then export PIP_CERT=/extras/ca.crt; fi \
    && pip install --constraint /src/requirements.lock "/src[postgres]" \
    && pip check
RUN if [ -s /extras/ca.crt ]; then export PIP_CERT=/extras/ca.crt; fi \
    && mkdir -p /opt/sourcier/models \
    && if [ -d /extras/models/embeddinggemma-300m ]; then \
         cp -r /extras/models/embeddinggemma-300m /opt/sourcier/models/; fi \
    && sourcier fetch-model --slim \
    && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE}
RUN echo "sourcier:x:10001:10001:Sourcier:/data:/usr/sbin/nologin" >> /etc/passwd \
    && echo "sourcier:x:10001:" >> /etc/group \
    && mkdir -p /data/articles \
    && chown -R 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/sourcier/models /opt/sourcier/models
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 \
    SOURCIER_MODEL_CACHE=/opt/sourcier/models SOURCIER_RUNTIME=onnx-int8 \
    SOURCIER_CORPUS='["/data/articles"]' SOURCIER_INDEX_DIR=/data/index SOURCIER_DATA_DIR=/data/db \
    SOURCIER_HOST=0.0.0.0 SOURCIER_PORT=8000
WORKDIR /data
VOLUME /data
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=10m --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('SOURCIER_PORT', '8000'), timeout=4)"
ENTRYPOINT ["sourcier"]
CMD ["serve", "--build"]
