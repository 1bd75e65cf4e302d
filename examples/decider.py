#!/usr/bin/env python3
"""A reference decider for `arbiter run --decider` (protocol: docs/master.md).

    arbiter run --decider 'python3 examples/decider.py /srv/data' -- PROGRAM

Allows reading (read, list, stat) beneath the directory given as its argument, denies
everything else the policy leaves undecided, and logs each decision to stderr (which
arbiter passes through). It reads one JSON object per line on stdin and answers one per
line on stdout; it exits at the end of its input.
"""
import json
import os
import sys

READING = {"read", "list", "stat"}


def beneath(path, root):
    """Whether path is root or lies beneath it (whole components)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def decide(request, root):
    """The answer object to one request."""
    subject = request.get("subject", {})
    path = subject.get("path")
    if isinstance(path, str) and beneath(path, root) and set(subject.get("access", [])) <= READING:
        return {"id": request["id"], "decision": "allow"}
    return {"id": request["id"], "decision": "deny", "errno": "EACCES"}


def main():
    if len(sys.argv) != 2:
        print("usage: decider.py DIRECTORY", file=sys.stderr)
        return 2
    root = os.path.realpath(sys.argv[1])
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            print(f"decider: not JSON: {line!r}", file=sys.stderr)
            continue
        if message.get("type") == "hello":
            if message.get("v") != 1:
                print(f"decider: unknown protocol version {message.get('v')}", file=sys.stderr)
                return 1
            continue
        if message.get("type") != "request":
            continue  # a later version's message this decider does not know
        answer = decide(message, root)
        what = message.get("subject")
        print(f"decider: {answer['decision']} {message.get('call')} {what} (pid {message.get('pid')})",
              file=sys.stderr)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
