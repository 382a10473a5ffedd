# sshmap in a container: the live map (`serve`) by default, any command otherwise.
#
#   docker build -t sshmap .
#   docker run -d --name sshmap -p 8022:8022 -v sshmap-data:/data \
#       -v /var/log/auth.log:/logs/auth.log:ro --group-add "$(getent group adm | cut -d: -f3)" \
#       sshmap serve --listen 0.0.0.0:8022 --tail /logs/auth.log
#   docker run --rm -v "$PWD":/work -w /work sshmap stats auth.log
#
# The store (/data/sshmap/sshmap.db), checkpoints and `geoip update` databases live
# in the /data volume.
# A config file can be mounted at /etc/sshmap/config.toml (read-only is fine).

# ---- build -------------------------------------------------------------------
FROM rust:1-bookworm AS build
# nasm: OpenH264's assembly (about twice as fast video encoding); a C/C++ compiler
# for the bundled SQLite and OpenH264 comes with the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nasm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sshmap \
 && install -D -m 0755 target/release/sshmap /out/sshmap

# ---- run ---------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: `geoip update` and --webhook over HTTPS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin sshmap \
 && install -d -o sshmap -g sshmap -m 0750 /data
COPY --from=build /out/sshmap /usr/bin/sshmap
# The store: /data/sshmap/sshmap.db; databases from `geoip update`: /data.
ENV XDG_DATA_HOME=/data \
    SSHMAP_DATA_DIR=/data \
    HOME=/data
USER sshmap
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8022
ENTRYPOINT ["/usr/bin/sshmap"]
CMD ["serve", "--listen", "0.0.0.0:8022"]
