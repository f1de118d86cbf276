#!/bin/sh
# Installs the Debian 12 packages that axnn needs to build, test and run its default job.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config zlib1g-dev libjpeg62-turbo-dev libcjson-dev libcmocka-dev \
    gnuplot-nox dataset-fashion-mnist clang >/dev/null
