"""A Secret Service client for the test harness, run with Debian's python3-gi.

Why: a call that returns a prompt (Unlock on any provider, Lock on KeePassXC) is finished only
by Prompt("") on the same connection and the prompt's Completed signal; gnome-keyring drops the
prompt when its caller disconnects, so two dbus-send runs cannot do it. This client subscribes
first, prompts, and waits for Completed or for its deadline.

  client.py unlock|lock OBJECT_PATH SECONDS   prints no-prompt, completed dismissed=true|false,
                                               or no-answer (nothing came before the deadline)
  client.py open-keepassxc DATABASE           KeePassXC's openDatabase, password on stdin
"""

import sys

from gi.repository import Gio, GLib

SECRETS = "org.freedesktop.secrets"
CALL_TIMEOUT_MS = 5000


def follow(bus, method, path, seconds):
    reply = bus.call_sync(
        SECRETS, "/org/freedesktop/secrets", "org.freedesktop.Secret.Service", method,
        GLib.Variant("(ao)", ([path],)), GLib.VariantType("(aoo)"),
        Gio.DBusCallFlags.NONE, CALL_TIMEOUT_MS, None)
    _done, prompt = reply.unpack()
    if prompt == "/":
        return "no-prompt"
    loop = GLib.MainLoop()
    result = []

    def completed(_conn, _sender, _path, _iface, _signal, params):
        result.append(params.unpack()[0])
        loop.quit()

    # No sender filter: the signal comes from the provider's unique name (KWallet sends it to
    # the caller only); the prompt's path is filter enough.
    bus.signal_subscribe(None, "org.freedesktop.Secret.Prompt", "Completed", prompt, None,
                         Gio.DBusSignalFlags.NONE, completed)
    bus.call_sync(SECRETS, prompt, "org.freedesktop.Secret.Prompt", "Prompt",
                  GLib.Variant("(s)", ("",)), None, Gio.DBusCallFlags.NONE,
                  CALL_TIMEOUT_MS, None)
    GLib.timeout_add(int(seconds * 1000), loop.quit)
    loop.run()
    if not result:
        return "no-answer"
    return "completed dismissed=" + ("true" if result[0] else "false")


def open_keepassxc(bus, database):
    password = sys.stdin.readline().rstrip("\n")
    bus.call_sync("org.keepassxc.KeePassXC.MainWindow", "/keepassxc",
                  "org.keepassxc.KeePassXC.MainWindow", "openDatabase",
                  GLib.Variant("(ss)", (database, password)), None,
                  Gio.DBusCallFlags.NONE, CALL_TIMEOUT_MS, None)
    return "opened"


def main():
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    command = sys.argv[1]
    if command in ("unlock", "lock"):
        method = "Unlock" if command == "unlock" else "Lock"
        print(follow(bus, method, sys.argv[2], float(sys.argv[3])))
    elif command == "open-keepassxc":
        print(open_keepassxc(bus, sys.argv[2]))
    else:
        sys.exit("unknown command: " + command)


main()
