"""A stand-in for gcr's system prompter, for gnome-keyring on a bus with no display.

Why: gnome-keyring asks for a password by calling the prompter over D-Bus (name
org.gnome.keyring.SystemPrompter); the real gcr-prompter needs a display. gcr's own
Gcr.SystemPrompter speaks that protocol (and its DH+AES encryption of the password); this only
supplies the Gcr.Prompt it drives, answering as the harness says.

  prompter.py MODE_FILE ANSWERS_FILE

MODE_FILE, read at each question: its first line is unlock (answer its second line), wrong
(a wrong password, at most WRONG_ANSWERS times a prompt, then cancel), cancel, or silent (no
answer until the mode changes). Each answer given is appended to ANSWERS_FILE as a line
(unlock, wrong, cancel; a confirmation is always cancelled: confirm-cancel), after a line
"owned" once the prompter's name is ours.
"""

import sys

import gi

gi.require_version("Gcr", "3")
from gi.repository import Gcr, Gio, GLib, GObject  # noqa: E402

PROMPTER_NAME = "org.gnome.keyring.SystemPrompter"
WRONG_ANSWERS = 3
POLL_MS = 50

mode_file, answers_file = sys.argv[1], sys.argv[2]


def record(line):
    with open(answers_file, "a") as f:
        f.write(line + "\n")


def read_mode():
    with open(mode_file) as f:
        lines = f.read().split("\n")
    return lines[0], (lines[1] if len(lines) > 1 else "")


class Prompt(GObject.Object, Gcr.Prompt):
    title = GObject.Property(type=str)
    message = GObject.Property(type=str)
    description = GObject.Property(type=str)
    warning = GObject.Property(type=str)
    choice_label = GObject.Property(type=str)
    choice_chosen = GObject.Property(type=bool, default=False)
    password_new = GObject.Property(type=bool, default=False)

    # gnome-keyring confirms a new keyring's password only when its strength is 0 (the real
    # prompter rates it; a blank one is 0): an answered password is rated 1.
    @GObject.Property(type=int, flags=GObject.ParamFlags.READABLE)
    def password_strength(self):
        return 1 if self.answer else 0

    caller_window = GObject.Property(type=str)
    continue_label = GObject.Property(type=str)
    cancel_label = GObject.Property(type=str)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.wrong_given = 0
        self.held = None
        self.answer = None

    def do_prompt_password_async(self, cancellable, callback, _data):
        task = Gio.Task.new(self, cancellable, callback)
        if read_mode()[0] == "silent":
            self.held = task
            GLib.timeout_add(POLL_MS, self.release_if_told)
        else:
            self.reply(task)

    def release_if_told(self):
        if self.held is None:
            return False
        if read_mode()[0] == "silent":
            return True
        task, self.held = self.held, None
        self.reply(task)
        return False

    def reply(self, task):
        mode, password = read_mode()
        if mode == "wrong" and self.wrong_given >= WRONG_ANSWERS:
            mode = "cancel"
        if mode == "unlock":
            self.answer = password
        elif mode == "wrong":
            self.wrong_given += 1
            self.answer = "not-the-password-%d" % self.wrong_given
        else:
            mode, self.answer = "cancel", None
        record(mode)
        self.notify("password-strength")
        task.return_boolean(True)

    def do_prompt_password_finish(self, _result):
        return self.answer

    def do_prompt_confirm_async(self, cancellable, callback, _data):
        record("confirm-cancel")
        Gio.Task.new(self, cancellable, callback).return_boolean(True)

    def do_prompt_confirm_finish(self, _result):
        return Gcr.PromptReply.CANCEL


bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
prompter = Gcr.SystemPrompter.new(Gcr.SystemPrompterMode.SINGLE, Prompt.__gtype__)
prompter.register(bus)
Gio.bus_own_name_on_connection(bus, PROMPTER_NAME, Gio.BusNameOwnerFlags.NONE,
                               lambda *_: record("owned"), lambda *_: sys.exit("name lost"))
GLib.MainLoop().run()
