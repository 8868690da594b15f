#!/bin/sh
# Build the example's pot image and publish it in a local "registry": the directory
# /var/cache/pot-images, which job files name as image = "file:///var/cache/pot-images"
# (pot fetches <pot>_<tag>.xz from there, as it would from an https:// registry).
set -eu

IMAGE=hello-pot
TAG=1.0
REGISTRY=/var/cache/pot-images

if [ -f "$REGISTRY/${IMAGE}_${TAG}.xz" ]; then
    echo "$REGISTRY/${IMAGE}_${TAG}.xz exists"
    exit 0
fi
release=$(freebsd-version -u | cut -d- -f1)
pot create-base -r "$release" || true   # fails harmlessly when the base exists
if ! pot ls -q | grep -qx "$IMAGE"; then
    pot create -p "$IMAGE" -b "$release" -t single
fi
pot set-cmd -p "$IMAGE" -c "/bin/sh -c 'echo hello from a pot'"
pot snapshot -p "$IMAGE"
mkdir -p "$REGISTRY"
pot export -p "$IMAGE" -t "$TAG" -D "$REGISTRY"
ls -l "$REGISTRY"
