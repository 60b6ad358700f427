# syntax=docker/dockerfile:1
# Recserve image: `recserve serve` (the runbook's recommendation-api) and the pipeline scripts.
#   docker build -t recserve:0.1.0 .
#   docker run --rm -p 8080:8080 -v $PWD/models:/opt/recserve/models -v $PWD/data:/opt/recserve/data recserve:0.1.0
# Stage 1 builds with exactly the packages of scripts/install-deps.sh (the same list CI uses);
# stage 2 carries only the shared libraries the binary links, found with ldd + dpkg, so the list
# cannot drift from the code.

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make build
# Runtime payload under /out and the Debian packages that own every library build/recserve loads.
RUN set -eu; \
    mkdir -p /out/opt/recserve/build; \
    cp build/recserve /out/opt/recserve/build/recserve; \
    cp -a scripts /out/opt/recserve/scripts; \
    for d in config; do if [ -d "$d" ]; then cp -a "$d" "/out/opt/recserve/$d"; fi; done; \
    for lib in $(ldd build/recserve | awk '/=> \// {print $3}'); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null \
        || dpkg -S "${lib#/usr}"; \
    done | cut -d: -f1 | sort -u > /out/runtime-packages.txt; \
    cat /out/runtime-packages.txt

FROM debian:bookworm-slim AS runtime
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
# python3: scripts/stage_model.py and scripts/reload_model.py; curl: HEALTHCHECK and runbook calls.
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends $(cat /tmp/runtime-packages.txt) \
       python3 python3-yaml curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
RUN groupadd --system --gid 10001 recserve \
    && useradd --system --uid 10001 --gid recserve --home-dir /opt/recserve --shell /usr/sbin/nologin recserve
COPY --from=build /out/opt/recserve /opt/recserve
RUN mkdir -p /opt/recserve/models /opt/recserve/data \
    && chown -R recserve:recserve /opt/recserve/models /opt/recserve/data
WORKDIR /opt/recserve
ENV PORT=8080 \
    MODEL_DIR=/opt/recserve/models \
    OMP_WAIT_POLICY=passive \
    LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/live" > /dev/null || exit 1
ENTRYPOINT ["/opt/recserve/build/recserve"]
CMD ["serve"]
