#!/bin/bash
# Runs once, at InfluxDB's first start (influxdb:2 runs /docker-entrypoint-initdb.d/*.sh after
# the setup that created the org, bucket and admin token, against the temporary init instance the
# entrypoint configured the influx CLI for, so no --host here). Maps the v1 database name
# "$DOCKER_INFLUXDB_INIT_BUCKET" (retention policy autogen) to the bucket so InfluxQL on /query —
# Grafana's datasource and the platform's reads — finds it (DESIGN.md "Storage").
set -euo pipefail
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --default
