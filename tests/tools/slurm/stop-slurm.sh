#!/usr/bin/env bash
# Stops what start-slurm.sh started in <folder> (munged stays: it may serve others).
dir=$1
for daemon in slurmd slurmctld; do
    if [ -s "$dir/$daemon.pid" ]; then kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true; fi
done
exit 0
