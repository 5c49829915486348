#!/bin/sh
# The node's engine: on its socket and, on the lab network only, on TCP 2375 (a real node
# would use TLS).
exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375
