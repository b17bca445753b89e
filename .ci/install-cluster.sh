#!/usr/bin/env bash
# Cluster tests: Slurm (slurmctld, slurmd, client commands) and munge from Debian. The tests start
# their own one-node Slurm on free ports (tests/tools/slurm/start-slurm.sh); nothing runs as a
# service. Idempotent and quiet.
set -euo pipefail
if ! command -v sbatch >/dev/null 2>&1 || ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
