#!/bin/sh
# Writes docker/.env, which docker compose reads for docker/docker-compose.yml: fresh random secrets shared
# by every Airflow service, and the Airflow admin password. Keeps an existing file (delete it to start over;
# a new Fernet key makes connection passwords already stored in the database unreadable).
set -eu
cd "$(dirname "$0")"
if [ -e .env ]; then
  echo "docker/.env exists; kept it" >&2
  exit 0
fi
token() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
fernet() { python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'; }
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
umask 077
cat > .env <<ENV
# written by docker/gen-env.sh; never commit it (docker/.gitignore)
AIRFLOW__API_AUTH__JWT_SECRET=$(token)
AIRFLOW__API__SECRET_KEY=$(token)
AIRFLOW__CORE__FERNET_KEY=$(fernet)
AIRFLOW_ADMIN_PASSWORD=$password
AIRFLOW_UID=50000
ENV
echo "wrote docker/.env; Airflow login: admin / $password"
