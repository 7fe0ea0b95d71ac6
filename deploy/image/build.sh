#!/usr/bin/env bash
# `make image`: build the Sourcier image as sourcier:local on this machine (arguments go to docker build:
# `make image IMAGE_ARGS=--no-cache`).
#
# - The base: $SOURCIER_IMAGE_BASE if given, else python:3.11-slim-bookworm when a registry gives it, else a
#   local Debian bookworm made with mmdebstrap and `docker import` (sourcier-base:bookworm), for machines
#   where no image registry answers.
# - build-extras/ (this stage of the build only, never in the image): the system's CA bundle, so that pip
#   works behind a TLS-inspecting proxy; the torch CPU wheel from pip's find-links folder when there is one;
#   the model already fetched by `make model` (the build verifies it by hash again, else fetches it).
# - --network host: no container on a private bridge network.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin needed
TAG=${SOURCIER_IMAGE_TAG:-sourcier:local}
LOCAL_BASE=sourcier-base:bookworm

base=${SOURCIER_IMAGE_BASE:-}
if [ -z "$base" ]; then
  if docker image inspect python:3.11-slim-bookworm >/dev/null 2>&1 \
     || timeout 60 docker pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
    base=python:3.11-slim-bookworm
  else
    base=$LOCAL_BASE
    if ! docker image inspect "$base" >/dev/null 2>&1; then
      echo "no image registry answers: making $base with mmdebstrap" >&2
      tarball=$(mktemp --suffix=.tar)
      mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$tarball"
      docker import "$tarball" "$base"
      rm -f "$tarball"
    fi
  fi
fi

rm -rf build-extras
mkdir -p build-extras/wheels build-extras/models
trap 'rm -rf build-extras' EXIT
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt build-extras/ca.crt; fi
torch_from="--index-url https://download.pytorch.org/whl/cpu"
find_links=$(pip config get global.find-links 2>/dev/null || true)
for folder in $find_links; do
  for wheel in "$folder"/torch-2.13.0+cpu-cp311-*.whl; do
    if [ -f "$wheel" ]; then
      cp "$wheel" build-extras/wheels/
      torch_from="--find-links /extras/wheels"
    fi
  done
done
model=${SOURCIER_MODEL_CACHE:-$HOME/.cache/sourcier/models}/embeddinggemma-300m
if [ -f "$model/model.safetensors" ]; then
  cp -r --link "$model" build-extras/models/ 2>/dev/null || cp -r "$model" build-extras/models/
fi

started=$(date +%s)
docker build "$@" --network host --build-arg BASE="$base" --build-arg TORCH_FROM="$torch_from" -t "$TAG" .
echo "$TAG built on $base in $(( $(date +%s) - started )) s; $(docker image inspect -f '{{.Size}}' "$TAG") bytes"
