#!/bin/sh
# The service's login role owns nothing; `fangfanpin migrate` grants it what it needs.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE ROLE fangfanpin_app LOGIN PASSWORD '${APP_PASSWORD}'" \
  -c "GRANT pg_read_all_stats TO fangfanpin_app"
