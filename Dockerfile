# One image for every HueWatch service; the command picks which (huewatch start --services …).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
RUN useradd --system --uid 10001 huewatch && mkdir -p /data && chown huewatch /data
USER huewatch
ENV DATA_DIR=/data HOST=0.0.0.0
EXPOSE 1883 9001 8080
HEALTHCHECK --interval=15s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/huewatch.js"]
CMD ["start"]
