# Shared by the bench/*.sh harnesses (sourced, not run): free loopback ports, waiting for an
# HTTP endpoint, and a static-file nginx for same-run comparisons with recserve.

# require_tools TOOL...: exits 2 naming the first tool that is neither on PATH nor executable.
require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "bench: $tool missing"; exit 2; }
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL: polls for up to 10 s until URL answers 2xx.
wait_http() {
  for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: $1 did not answer"
  return 1
}

# start_nginx NGINX_BIN WORKDIR PORT: nginx (one worker per core, sendfile, open_file_cache,
# access log off) serving WORKDIR/www on 127.0.0.1:PORT in the background; sets nginx_pid.
# nginx workers run as an unprivileged user when started by root, so the files are made readable.
start_nginx() {
  local nginx_bin=$1 dir=$2 port=$3
  mkdir -p "$dir/nginx"
  chmod -R a+rX "$dir/www" "$dir/nginx"
  chmod a+x "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  keepalive_requests 1000000;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=1000 inactive=60s;
  server {
    listen 127.0.0.1:$port;
    root $dir/www;
    default_type application/json;
  }
}
CONF
  "$nginx_bin" -c "$dir/nginx.conf" -p "$dir/nginx" &
  nginx_pid=$!
}
