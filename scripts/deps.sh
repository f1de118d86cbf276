#!/bin/sh
# Installs the Debian 12 packages that axnn needs to build, test and run its default job.
# libonnx-testdata (ONNX's backend node tests, 6 MB download, 21 MB installed) feeds
# tests/test_onnx_node.c and tests/test_onnx_kernels.c, which skip without it.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    build-essential cmake pkg-config zlib1g-dev libjpeg62-turbo-dev libcjson-dev libcmocka-dev libseccomp-dev \
    gnuplot-nox dataset-fashion-mnist clang \
    protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata >/dev/null
