"""`make up` / `make down` / `make status` / `make logs`: the stack as local processes under honcho,
or docker compose when a Docker engine answers."""
