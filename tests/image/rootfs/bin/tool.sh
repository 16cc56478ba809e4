#!/bin/sh
echo "a file with its executable bit kept"
