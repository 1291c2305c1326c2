# syntax=docker/dockerfile:1
# The arswarm coordinator: Node 20 + git, runs as uid 10001.
# Build from the repo root:  docker build -f docker/coordinator.Dockerfile -t arswarm-coordinator:0.1.0 .
ARG NODE_IMAGE=node:20-bookworm-slim

# The compiled CLI, coordinator and worker (dist/), built with the dev
# dependencies (TypeScript) that the runtime image does not carry.
FROM ${NODE_IMAGE} AS build
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

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# git: the shared branch, bundles for workers, merges. tini: PID 1 that reaps
# the git children and forwards SIGTERM so the coordinator drains. python3:
# the semantic patch check (common/python-check), which refuses every patch
# when it cannot run.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git tini ca-certificates openssh-client python3 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 arswarm \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/arswarm --create-home --shell /usr/sbin/nologin arswarm \
 && mkdir -p /etc/arswarm /var/lib/arswarm \
 && chown arswarm:arswarm /var/lib/arswarm
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json program.md ./
# bin/arswarm.js runs the compiled output (no TypeScript sources in the image).
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY web ./web
# The bundled targets; the chart's default config points at examples/landscape.
COPY examples ./examples
ENV NODE_ENV=production \
    HOME=/home/arswarm
USER 10001:10001
VOLUME ["/var/lib/arswarm"]
EXPOSE 50051 8080
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/arswarm.js"]
CMD ["coordinator", "--config", "/etc/arswarm/arswarm.yaml"]
