# One image for every HueWatch service; SERVICES (or huewatch start --services …) picks which.
# tsx runs the TypeScript at run time, so it is a dependency, not a devDependency.
# Pinned to a minor release (test/compose.test.ts refuses `latest` and untagged images); .dockerignore
# keeps node_modules, data/ (secrets.json, the database), .env files and .git out of `COPY . .`.
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# the dependency patches npm install's postinstall applies (patch-package; patches/README.md)
COPY patches ./patches
COPY package.json package-lock.json ./
# npm install, not npm ci: the lock file holds DuckDB's native bindings only for linux-x64 (the
# registry it was made against has no others), and npm ci refuses a lock without every platform's;
# npm install keeps the locked versions and adds this platform's binding (e.g. linux-arm64).
RUN npm install --omit=dev --no-audit --no-fund
# the source only: .dockerignore decides what of the checkout reaches the image
COPY . .
RUN useradd --system --uid 10001 huewatch && mkdir -p /data && chown huewatch /data
USER huewatch
ENV DATA_DIR=/data HOST=0.0.0.0
# MQTT, MQTT over WebSocket, the HTTP API, and the ops listener of a process without the API
EXPOSE 1883 9001 8080 8081
# /health of the API, or of the ops listener when this container does not run the API (SERVICES)
HEALTHCHECK --interval=15s --timeout=3s --retries=5 CMD node -e "const api=(process.env.SERVICES||'api').split(',').includes('api');fetch('http://127.0.0.1:'+(api?process.env.HTTP_PORT||8080:process.env.OPS_PORT||8081)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/huewatch.js"]
CMD ["start"]
