# syntax=docker/dockerfile:1
# cdc-views container image: the compiled CLI (node dist/src/cli/main.js) on
# Node 20 Alpine, production dependencies only, running as uid 1000 under tini
# (PID 1 that forwards SIGTERM so `run` stops gracefully and reaps zombies).
#
#   docker build -t cdc-views .
#   docker run --rm cdc-views --help
#   docker run --rm -e CDCV_APPLICATION_ID=… -e CDCV_TOPICS=… -e CDCV_TOPOLOGY=dist/topologies/customer-cache.js cdc-views run
#
# Topology modules are compiled with the sources: CDCV_TOPOLOGY names
# dist/topologies/<name>.js (relative to /app) or any path, e.g. a .ts file
# mounted from a ConfigMap; such a file imports 'cdc-views', which resolves to
# this package (src/topology/loader-hooks.ts).
ARG NODE_VERSION=20

# --- build: compile TypeScript (dev dependencies live only in this stage) ---
FROM node:${NODE_VERSION}-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-build-assets.mjs ./scripts/
COPY src ./src
COPY topologies ./topologies
COPY schemas ./schemas
# `npm run build`: tsc, then the data files tsc does not copy (the Lua
# scripts under src/state/lua, the connector definitions under schemas/).
RUN npm run build \
 && node dist/src/cli/main.js --help >/dev/null

# --- deps: production dependencies only ---
FROM node:${NODE_VERSION}-alpine AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# --- runtime ---
FROM node:${NODE_VERSION}-alpine
RUN apk add --no-cache tini
ENV NODE_ENV=production
WORKDIR /app
# package.json carries "type": "module" for the compiled ESM files.
COPY package.json ./
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# uid/gid 1000 is the image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${CDCV_HTTP_PORT:-9464}/healthz" || exit 1
ENTRYPOINT ["/sbin/tini", "--", "node", "/app/dist/src/cli/main.js"]
CMD ["run"]
