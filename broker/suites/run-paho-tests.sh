#!/bin/bash
# Paho's MQTT 3.1.1 interoperability suite against this broker in the conformance profile.
# usage: run-paho-tests.sh PAHO_TESTING_DIR   (a checkout of eclipse/paho.mqtt.testing or its interoperability/ folder; needs python3)
# Its client_test.py parses -p PORT itself, which unittest.main() then refuses: a copy calls
# unittest.main(argv=[argv0]).
set -u
dir=$1
here=$(cd "$(dirname "$0")" && pwd)
port=$((20000 + RANDOM % 20000))
node --import tsx "$here/conformance-broker.ts" "$port" & broker=$!
trap 'kill $broker 2>/dev/null' EXIT
for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
if [ -f "$dir/client_test.py" ]; then cd "$dir"; else cd "$dir/interoperability"; fi
sed 's/^    unittest.main()$/    unittest.main(argv=[sys.argv[0]])/' client_test.py > client_test_run.py
python3 client_test_run.py -p "$port"
