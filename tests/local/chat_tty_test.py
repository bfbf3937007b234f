#!/usr/bin/env python3
"""`allm chat` on a terminal (a pseudo-terminal): Ctrl-C at the prompt clears
the line and keeps the chat; a second Ctrl-C in a row leaves with status 0;
the typed message is kept in ~/.local/state/allm/history for the next session."""
import os
import pty
import select
import sys
import time

allm, model, home = sys.argv[1:4]
env = dict(os.environ, HOME=home, ALLM_CONFIG=os.path.join(home, "none.json"), TERM="dumb")
env.pop("XDG_STATE_HOME", None)
pid, fd = pty.fork()
if pid == 0:
    os.execve(allm, [allm, "chat", model, "--max-tokens", "1", "--temperature", "0", "--threads", "2"], env)

seen = b""


def wait_for(pattern, timeout=120):
    global seen
    end = time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        at = seen.find(pattern)
        if at >= 0:
            seen = seen[at + len(pattern):]
            return
    sys.exit(f"FAIL: timed out waiting for {pattern!r}; terminal shows {seen!r}")


def exited(timeout):
    end = time.time() + timeout
    while time.time() < end:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            return status
        try:  # keep draining the terminal so the child never blocks on it
            if select.select([fd], [], [], 0.1)[0]:
                os.read(fd, 4096)
        except OSError:
            time.sleep(0.1)
    return None


wait_for(b"> ")
os.write(fd, b"first message\r")
wait_for(b"\n> ")  # the one-token answer, then the prompt again
os.write(fd, b"half typed")
time.sleep(0.5)
os.write(fd, b"\x03")
wait_for(b"Ctrl-C again or Ctrl-D to leave")
if exited(1.0) is not None:
    sys.exit("FAIL: the first Ctrl-C at the prompt ended the chat")
os.write(fd, b"\x03")
status = exited(20)
if status is None:
    os.kill(pid, 9)
    sys.exit("FAIL: a second Ctrl-C did not leave the chat")
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    sys.exit(f"FAIL: leaving with Ctrl-C gave status {status}, expected exit 0")
history = open(os.path.join(home, ".local", "state", "allm", "history")).read()
if "first message" not in history or "half typed" in history:
    sys.exit(f"FAIL: history file holds {history!r}")
print("chat on a terminal: Ctrl-C clears the line, twice leaves; history kept")
