#!/bin/sh
# Run vagrant/jobs/hello-pot.nomad and wait for its output in the task's logs.
set -eu

JOB=/usr/local/src/nomadjail/vagrant/jobs/hello-pot.nomad
export NOMAD_ADDR=http://127.0.0.1:4646

nomadjail job run "$JOB"
i=0
until nomadjail alloc logs -job hello-pot 2>/dev/null | grep -q 'hello from a pot'; do
    i=$((i + 1))
    if [ "$i" -gt 120 ]; then
        echo "no output from the hello-pot job after 2 minutes" >&2
        nomadjail job status hello-pot >&2 || true
        exit 1
    fi
    sleep 1
done
nomadjail job status hello-pot
nomadjail alloc logs -job hello-pot
pot ls
