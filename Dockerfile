# syntax=docker/dockerfile:1
# The operator image: compiled once with the full toolchain, run on distroless
# Node.js (no shell, no package manager) as UID 65532, on a read-only root
# filesystem. Build: docker build -t backendapp-operator:0.1.0 .  (docs/install.md)

FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin/ bin/
COPY src/ src/
# tsc to dist/; then drop the tests it compiled and the dev dependencies.
RUN npm run build
RUN test -f dist/src/cli.js || { echo "dist/src/cli.js was not built; bin/backendapp-operator.js runs it" >&2; exit 1; }
RUN find dist -name '*.test.js' -delete \
 && find dist -name '*.test-util.js' -delete \
 && npm prune --omit=dev --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="backendapp-operator" \
      org.opencontainers.image.description="Kubernetes operator for BackendApp (backendapp.io/v1alpha1)" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Root-owned and read-only to the operator: nothing here is written at run time.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER 65532:65532
# Metrics and health probes (the chart's defaults).
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/backendapp-operator.js"]
CMD ["run"]
