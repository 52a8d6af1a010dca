#!/bin/sh
# openapi/sipprov-v1.json is a valid OpenAPI 3.1 document by a real
# validator: Redocly CLI's recommended-strict rules (openapi/redocly.yaml),
# installed by tools/install-deps.sh --test into the user's cache.
. "$(dirname "$0")/../lib.sh"
REDOCLY=${REDOCLY:-${XDG_CACHE_HOME:-$HOME/.cache}/sipprov-redocly/node_modules/.bin/redocly}
[ -x "$REDOCLY" ] || bail "redocly not found at $REDOCLY (tools/install-deps.sh --test installs it)"
out=$(cd "$ROOT" && "$REDOCLY" lint --config openapi/redocly.yaml openapi/sipprov-v1.json 2>&1); rc=$?
[ $rc -eq 0 ] || printf '%s\n' "$out" | grep -v '[║╔╚]' | sed 's/^/# /'
ok $rc "redocly lint: openapi/sipprov-v1.json valid, no problem under recommended-strict"
like "$out" "valid" "and says so"
done_testing
