#!/bin/sh
# A stand-in for the user's browser in tokenfob's tests: acts as the user on the provider's pages, in the background
# as a real browser would be, and visits the loopback redirect at the end.
node "$(dirname "$0")/act-as-user.js" "$1" >/dev/null 2>&1 &
