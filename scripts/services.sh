#!/usr/bin/env bash
# Makes sure MariaDB and Redis answer on 127.0.0.1 for the integration tests: uses running servers,
# starts installed ones that are stopped, and installs and starts them when they are missing.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

ensure_pkg() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "service on port $1 did not start" >&2
  return 1
}

if ! port_open 6379; then
  echo "Starting Redis on 127.0.0.1:6379"
  ensure_pkg redis-server
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/kafaat.log
  wait_port 6379
fi

if ! port_open 3306; then
  echo "Starting MariaDB on 127.0.0.1:3306"
  ensure_pkg mariadb-server
  $SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --bind-address=127.0.0.1
  wait_port 3306
fi

# A test account of our own: a fresh Debian MariaDB lets root in only through the unix socket, so the
# tests never rely on root over TCP. It may only touch the per-run test databases (test_kafaat_*).
SQL="CREATE USER IF NOT EXISTS 'kafaat_test'@'127.0.0.1' IDENTIFIED BY 'kafaat_test';
CREATE USER IF NOT EXISTS 'kafaat_test'@'localhost' IDENTIFIED BY 'kafaat_test';
GRANT ALL PRIVILEGES ON \`test\\_kafaat%\`.* TO 'kafaat_test'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`test\\_kafaat%\`.* TO 'kafaat_test'@'localhost';"
if ! mysql -h127.0.0.1 -ukafaat_test -pkafaat_test -e "SELECT 1" >/dev/null 2>&1; then
  echo "Creating the MariaDB test account kafaat_test"
  mysql -h127.0.0.1 -uroot -e "$SQL" 2>/dev/null || $SUDO mysql -uroot -e "$SQL"
fi

# MariaDB's default of 151 connections is less than a class of learners pressing at once through a
# server that opens one connection per request (the demo's, the class benchmark's): raise it for
# this server's run (an operator sets max_connections in the server's configuration).
SQL="SET GLOBAL max_connections = GREATEST(@@global.max_connections, 600);"
mysql -h127.0.0.1 -uroot -e "$SQL" 2>/dev/null || $SUDO mysql -uroot -e "$SQL" 2>/dev/null || \
  echo "could not raise MariaDB's max_connections (a class benchmark on MariaDB may meet 'Too many connections')"
