#!/bin/bash
# Stands in for `mosquitto` in mosquitto's own test runner: this broker in the conformance profile,
# on the port the test asks for (-p PORT, or the `listener`/`port` line of its -c file).
port=1888
while [ $# -gt 0 ]; do
  case "$1" in
    -p) port="$2"; shift 2;;
    -c) p=$(grep -E '^(listener|port) ' "$2" 2>/dev/null | head -1 | awk '{print $2}'); [ -n "$p" ] && port=$p; shift 2;;
    *) shift;;
  esac
done
cd "$(dirname "$0")/../.." && exec node --import tsx broker/suites/conformance-broker.ts "$port"
