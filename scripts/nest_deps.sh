#!/usr/bin/env bash
# Installs the NestJS peer used by tests/nest_interop.rs (@nestjs/microservices
# and kafkajs, versions pinned in tests/interop/nest/package-lock.json) unless
# the same lock file was installed already.
set -euo pipefail
cd "$(dirname "$0")/../tests/interop/nest"
stamp=node_modules/.kafkit-lock-installed
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
