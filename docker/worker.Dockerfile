# syntax=docker/dockerfile:1
# The arswarm worker: a CUDA runtime base, the distribution's python3, Node 20
# and git; runs as uid 10001. nvidia-smi and the driver come from the NVIDIA
# container toolkit at run time. Trial code runs as uid 10002 (arswarm-trial)
# when the worker may switch to it: the Helm chart runs the container as root
# with only CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID and SETUID; with
# `docker run`, add `--user 0 --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE
# --cap-add FOWNER --cap-add KILL --cap-add SETGID --cap-add SETUID` and
# `--trial-user 10002:10002` (docs/reliability.md).
# Build from the repo root:  docker build -f docker/worker.Dockerfile -t arswarm-worker:0.1.0 .
# Targets that need PyTorch etc.:  --build-arg PYTHON_PACKAGES="torch numpy"
# uv (for targets run with `uv run`, e.g. karpathy/autoresearch) is copied from
# Astral's image; a target's environment is prepared once per worker by its
# `target.setup` (`uv sync --frozen` into UV_PROJECT_ENVIRONMENT), not per trial.
ARG CUDA_IMAGE=nvidia/cuda:12.4.1-runtime-ubuntu22.04
ARG NODE_IMAGE=node:20-bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.8.15

FROM ${NODE_IMAGE} AS node
FROM ${UV_IMAGE} AS uv

# The compiled CLI, coordinator and worker (dist/), built with the dev
# dependencies (TypeScript) that the runtime image does not carry.
FROM node AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts/build.js ./scripts/build.js
COPY gen ./gen
COPY common ./common
COPY coordinator ./coordinator
COPY worker ./worker
COPY cli ./cli
RUN node scripts/build.js

FROM node AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${CUDA_IMAGE} AS runtime
ARG PYTHON_PACKAGES=""
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv git tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -n "$PYTHON_PACKAGES" ]; then python3 -m pip install --no-cache-dir $PYTHON_PACKAGES; fi
# The official Node binary is built for old glibc versions, so it runs on this base.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=uv /uv /uvx /usr/local/bin/
RUN groupadd --system --gid 10001 arswarm \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/arswarm --create-home --shell /usr/sbin/nologin arswarm \
 && groupadd --system --gid 10002 arswarm-trial \
 && useradd --system --uid 10002 --gid 10002 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin arswarm-trial \
 && mkdir -p /var/cache/arswarm-worker /var/cache/arswarm-cache \
 && chown arswarm:arswarm /var/cache/arswarm-worker /var/cache/arswarm-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# bin/arswarm.js runs the compiled output (no TypeScript sources in the image).
COPY bin ./bin
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production \
    HOME=/home/arswarm \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
# tini forwards SIGTERM to the worker only (not to its process group): the
# worker drains, and stops the training process itself if it must.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/arswarm.js", "worker"]
CMD ["--gpus", "all"]
